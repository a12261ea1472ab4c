// Who reads each value of a graph, for passes that ask it for many nodes: built in one sweep over
// the graph (on first use, so a pass that finds nothing to do pays nothing) and kept current by
// the edits made through it, so "who reads v" and "is v a graph output" cost O(reads of v)
// instead of a scan of every node (Graph::consumers) or every graph output
// (Graph::is_graph_output). A pass that asks once per node would otherwise be quadratic in the
// graph's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::passes {

class UseIndex {
 public:
  // Indexes the graph as it is when first asked. Edits made to it from then on must go through
  // the methods below (or be followed by a new index).
  explicit UseIndex(ir::Graph& graph) : graph_(graph) {}
  UseIndex(const UseIndex&) = delete;
  UseIndex& operator=(const UseIndex&) = delete;

  ir::Graph& graph() const { return graph_; }

  // The nodes reading `v`, each once, in graph order (as Graph::consumers lists them).
  std::vector<ir::Node*> consumers(const ir::Value* v) const;
  bool has_consumers(const ir::Value* v) const;
  // Whether more than `n` distinct nodes read `v` (without listing them all).
  bool has_more_consumers_than(const ir::Value* v, size_t n) const;
  // The node reading `v` when exactly one does (however often), else nullptr.
  ir::Node* only_consumer(const ir::Value* v) const;
  bool is_graph_output(const ir::Value* v) const;
  bool is_graph_input(const ir::Value* v) const;

  // n->inputs[i] = v (growing the input list with omitted inputs when i is past its end).
  void set_input(ir::Node* n, size_t i, ir::Value* v);
  // n->inputs = inputs.
  void set_inputs(ir::Node* n, std::vector<ir::Value*> inputs);
  // Every read of `from` (node inputs and graph outputs) becomes a read of `to`.
  void replace_all_uses(ir::Value* from, ir::Value* to);
  // Adds a node to the graph (Graph::add_node) and counts its reads.
  ir::Node* add_node(const std::string& op, const std::string& name, std::vector<ir::Value*> inputs,
                     std::vector<ir::Value*> outputs);
  // Stops counting `n`'s reads: `n` is about to leave the graph, or is dead and will go with the
  // pass's dead-code removal. Its inputs stay as they are (replace_all_uses leaves them too).
  void forget_node(ir::Node* n);
  // Graph::remove_node, deferred: forgets `n` and unsets it as the producer of its outputs now;
  // the node itself leaves the graph in remove_forgotten_nodes (so pointers to it stay valid
  // while a pass walks a node list).
  void remove_node(ir::Node* n);
  // Whether forget_node was called for `n`.
  bool forgotten(const ir::Node* n) const { return forgotten_.count(n) != 0; }
  // Forgets `n` when none of its outputs is read or a graph output, then each producer of its
  // inputs left so, and so on: the nodes Graph::remove_unused would drop because of `n`.
  void forget_if_dead(ir::Node* n);
  // forget_if_dead for every node: all that Graph::remove_unused would drop now.
  void forget_dead_nodes();
  // Removes every forgotten node still in the graph, in one sweep (Graph::remove_nodes).
  void remove_forgotten_nodes();

 private:
  struct Read {
    ir::Node* node;
    uint32_t slot;
  };
  struct NodeEntry {
    size_t order = 0;          // place in graph order (nodes added later come after all others)
    std::vector<uint32_t> at;  // per input slot: its place in readers_[input], if any
  };

  // Builds the index on first use.
  void build() const;
  void count_reads(ir::Node* n) const;
  void add_read(ir::Value* v, ir::Node* n, size_t slot) const;
  void drop_read(const ir::Value* v, ir::Node* n, size_t slot) const;
  const std::vector<Read>* reads_of(const ir::Value* v) const;

  ir::Graph& graph_;
  mutable bool built_ = false;
  // Per value, every (node, input slot) reading it; NodeEntry::at finds a read in O(1), so
  // changing one costs O(1) even for a value read by very many layers.
  mutable std::unordered_map<const ir::Value*, std::vector<Read>> readers_;
  mutable std::unordered_map<const ir::Node*, NodeEntry> nodes_;
  // Graph outputs: the slots of graph.outputs() holding each value.
  mutable std::unordered_map<const ir::Value*, std::vector<size_t>> output_slots_;
  mutable std::unordered_set<const ir::Value*> graph_inputs_;
  std::unordered_set<const ir::Node*> forgotten_;
};

}  // namespace kiln::passes
