// Output replacement that preserves graph output names.
#include "passes/rewrite.hpp"

#include <cstdlib>
#include <string>

#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"

namespace kiln::passes {

namespace {

// Whether the graph output `out` can hand its name to `replacement`; if so, does it.
bool hand_over_output_name(ir::Graph& graph, ir::Value* out, ir::Value* replacement,
                           bool replacement_is_input_or_output) {
  if (replacement_is_input_or_output) return false;
  std::string name = out->name;
  graph.rename_value(out, graph.unique_value_name(name + "_replaced"));
  graph.rename_value(replacement, name);
  return true;
}

}  // namespace

bool replace_node_output(ir::Graph& graph, ir::Node* node, size_t out_index,
                         ir::Value* replacement) {
  ir::Value* out = node->outputs.at(out_index);
  if (!out || out == replacement) return false;
  if (graph.is_graph_output(out) &&
      !hand_over_output_name(
          graph, out, replacement,
          graph.is_graph_input(replacement) || graph.is_graph_output(replacement))) {
    return false;
  }
  graph.replace_all_uses(out, replacement);
  return true;
}

bool replace_node_output(UseIndex& uses, ir::Node* node, size_t out_index, ir::Value* replacement) {
  ir::Value* out = node->outputs.at(out_index);
  if (!out || out == replacement) return false;
  if (uses.is_graph_output(out) && !hand_over_output_name(uses.graph(), out, replacement,
                                                          uses.is_graph_input(replacement) ||
                                                              uses.is_graph_output(replacement))) {
    return false;
  }
  uses.replace_all_uses(out, replacement);
  return true;
}

void tidy_after_rewrite(ir::Graph& graph) {
  graph.sort_topologically();
  graph.remove_unused();
  ir::infer_graph(graph);
}

ir::Value* add_int64_constant(ir::Graph& graph, const std::string& base,
                              const std::vector<int64_t>& values) {
  return graph.add_constant(
      graph.unique_value_name(base),
      Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(values.size())}, values));
}

void copy_layer_precision(const ir::Node& from, ir::Node& to) {
  const std::string precision = from.attrs.get_string(ir::kLayerPrecisionAttr, "");
  if (!precision.empty()) to.attrs.set(ir::kLayerPrecisionAttr, precision);
}

}  // namespace kiln::passes
