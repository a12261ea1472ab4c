// The head/tail split of a graph with data-dependent shapes (host_tail.hpp).
#include "builder/host_tail.hpp"

#include <algorithm>
#include <unordered_map>

namespace kiln::builder {
namespace {

void push_once(std::vector<ir::Value*>& list, ir::Value* v) {
  if (std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
}

// Removes from `copy` (a clone of the split graph, nodes in the same order) the layers whose
// `in_tail` flag is `tail`.
void remove_part(ir::Graph& copy, const std::vector<bool>& in_tail, bool tail) {
  std::vector<ir::Node*> drop;
  for (size_t i = 0; i < in_tail.size(); ++i) {
    if (in_tail[i] == tail) drop.push_back(copy.nodes()[i].get());
  }
  for (ir::Node* n : drop) copy.remove_node(n);
}

}  // namespace

std::optional<HostTailSplit> split_host_tail(const ir::Graph& graph, const StaticPrefix& prefix) {
  if (prefix.data_dependent.empty()) return std::nullopt;
  const auto& nodes = graph.nodes();
  std::vector<bool> in_tail(nodes.size());
  bool head_computes = false;
  for (size_t i = 0; i < nodes.size(); ++i) {
    in_tail[i] = prefix.data_dependent.count(nodes[i].get()) > 0;
    if (!in_tail[i] && nodes[i]->op != "Shape" && nodes[i]->op != "Size") head_computes = true;
  }
  // Nothing worth a launch before the data-dependent layers: every layer goes to the host.
  if (!head_computes) in_tail.assign(nodes.size(), true);

  // Both parts start as copies of the whole graph; value and node indices match the original's.
  HostTailSplit split{graph.clone(), graph.clone(), prefix.why};
  std::unordered_map<const ir::Value*, size_t> original_index;
  for (size_t i = 0; i < graph.values().size(); ++i) original_index[graph.values()[i].get()] = i;

  // Which original values each part makes (its layers' outputs) and which the tail reads.
  const size_t n_values = graph.values().size();
  std::vector<bool> made_by_head(n_values), made_by_tail(n_values), read_by_tail(n_values);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const ir::Value* v : nodes[i]->outputs) {
      if (v) (in_tail[i] ? made_by_tail : made_by_head)[original_index.at(v)] = true;
    }
    if (!in_tail[i]) continue;
    for (const ir::Value* v : nodes[i]->inputs) {
      if (v) read_by_tail[original_index.at(v)] = true;
    }
  }
  // Head: the static layers; its outputs are the graph outputs not made by the tail, then the
  // boundary.
  {
    ir::Graph& head = *split.head;
    std::vector<ir::Value*> outputs;
    for (const ir::Value* v : graph.outputs()) {
      size_t i = original_index.at(v);
      if (!made_by_tail[i]) push_once(outputs, head.values()[i].get());
    }
    for (size_t i = 0; i < n_values; ++i) {
      if (made_by_head[i] && read_by_tail[i]) push_once(outputs, head.values()[i].get());
    }
    remove_part(head, in_tail, true);
    head.outputs() = std::move(outputs);
    head.remove_unused();
  }

  // Tail: the data-dependent layers on their graph inputs and the boundary, which become inputs
  // with the static shapes the head gives them.
  {
    ir::Graph& tail = *split.tail;
    std::vector<ir::Value*> inputs;
    for (const ir::Value* v : graph.inputs()) {
      size_t i = original_index.at(v);
      if (read_by_tail[i]) push_once(inputs, tail.values()[i].get());
    }
    for (size_t i = 0; i < n_values; ++i) {
      if (!made_by_head[i] || !read_by_tail[i]) continue;
      ir::Value* v = tail.values()[i].get();
      v->shape = ir::to_sym_shape(prefix.shapes.values.at(graph.values()[i].get()));
      push_once(inputs, v);
    }
    std::vector<ir::Value*> outputs;
    for (const ir::Value* v : graph.outputs()) {
      size_t i = original_index.at(v);
      if (made_by_tail[i]) push_once(outputs, tail.values()[i].get());
    }
    remove_part(tail, in_tail, false);
    tail.inputs() = std::move(inputs);
    tail.outputs() = std::move(outputs);
    tail.remove_unused();
  }
  return split;
}

}  // namespace kiln::builder
