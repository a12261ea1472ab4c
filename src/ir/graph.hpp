// The graph IR: values (tensors) produced and consumed by nodes. Nodes are kept in topological
// order. Constant values (initializers) carry their data; graph inputs are fed at run time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/attribute.hpp"
#include "kiln/tensor.hpp"

namespace kiln::ir {

// A dimension: a known size, or unknown with an optional symbolic name ("batch").
struct Dim {
  int64_t value = -1;
  std::string symbol;

  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: dims read naturally as numbers
  static Dim symbolic(std::string name) {
    Dim d;
    d.symbol = std::move(name);
    return d;
  }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
};

using SymShape = std::vector<Dim>;

SymShape to_sym_shape(const Shape& s);
// The concrete shape if every dim is known.
std::optional<Shape> to_concrete(const SymShape& s);
std::string sym_shape_to_string(const std::optional<SymShape>& s);

struct Node;

struct Value {
  std::string name;  // unique in its graph; rename through Graph::rename_value (names are indexed)
  DataType dtype = DataType::kFloat32;
  std::optional<SymShape> shape;  // nullopt: rank unknown
  Node* producer = nullptr;
  std::optional<Tensor> constant;  // set for initializers and folded constants

  bool is_constant() const { return constant.has_value(); }
};

struct Node {
  std::string name;
  std::string op;
  std::string domain;           // "" for the default ONNX domain
  std::vector<Value*> inputs;   // nullptr where an optional input is omitted
  std::vector<Value*> outputs;  // nullptr where an optional output is omitted
  Attributes attrs;
  std::vector<std::string> origins;  // ONNX node names this layer came from

  // "node 'conv1' (Conv)" — the phrase every error about this node starts with.
  std::string describe() const;
  Value* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs.size() ? outputs[i] : nullptr; }
};

// The node's subgraph attributes (If branches, Loop and Scan bodies), in attribute-name order.
std::vector<const Graph*> subgraphs_of(const Node& node);

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;

  Value* add_value(const std::string& name, DataType dtype = DataType::kFloat32,
                   std::optional<SymShape> shape = std::nullopt);
  Value* add_constant(const std::string& name, Tensor data);
  // Appends a node; callers add nodes in topological order or call sort_topologically().
  Node* add_node(const std::string& op, const std::string& name, std::vector<Value*> inputs,
                 std::vector<Value*> outputs);

  // Looks names up in the graph's name index (kept by the methods here), not by a scan.
  Value* find_value(const std::string& name) const;
  // Gives `v` (a value of this graph) a new name, keeping the name index current.
  void rename_value(Value* v, const std::string& name);
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<Node*> node_list() const;

  std::vector<Value*>& inputs() { return inputs_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }

  bool is_graph_input(const Value* v) const;
  bool is_graph_output(const Value* v) const;
  std::vector<Node*> consumers(const Value* v) const;

  // Redirects every use of `from` (node inputs and graph outputs) to `to`.
  void replace_all_uses(Value* from, Value* to);
  void remove_node(Node* n);
  // Removes every node in `doomed` in one sweep (remove_node for many nodes, without a scan each).
  void remove_nodes(const std::unordered_set<const Node*>& doomed);
  // Drops nodes whose outputs nobody uses (transitively) and values nothing refers to.
  void remove_unused();
  // Orders nodes so producers come before consumers; throws naming a node on a cycle.
  void sort_topologically();
  std::string unique_value_name(const std::string& base) const;
  std::string unique_node_name(const std::string& base) const;

  // Deep copy (constant data shared, since constants are immutable).
  std::unique_ptr<Graph> clone() const;

 private:
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  // Name -> the first value / node of that name, so lookups and fresh names cost no scan. Entries
  // are checked against the name on use (a value renamed behind the index's back is not found
  // under its new name until remove_unused rebuilds the index).
  std::unordered_map<std::string, Value*> value_names_;
  std::unordered_map<std::string, Node*> node_names_;

  void index_names();
  bool value_name_taken(const std::string& name) const;
  bool node_name_taken(const std::string& name) const;
};

}  // namespace kiln::ir
