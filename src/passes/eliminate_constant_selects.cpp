// Removes selections decided at build time: Where whose condition is a constant that is all true
// or all false (the `is_training` switch exported training graphs carry) becomes the chosen
// branch, when that branch already has the output's shape and type.
#include <algorithm>

#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

// 1 if every element is true, 0 if every element is false, -1 otherwise.
int uniform_condition(const Tensor& c) {
  if (c.dtype() != DataType::kBool || c.numel() == 0) return -1;
  const auto* p = c.data<uint8_t>();
  bool all_true = std::all_of(p, p + c.numel(), [](uint8_t v) { return v != 0; });
  bool all_false = std::all_of(p, p + c.numel(), [](uint8_t v) { return v == 0; });
  return all_true ? 1 : all_false ? 0 : -1;
}

bool same_type(const ir::Value* a, const ir::Value* b) {
  return a->dtype == b->dtype && a->shape && b->shape && *a->shape == *b->shape &&
         ir::to_concrete(*a->shape).has_value();
}

}  // namespace

bool eliminate_constant_selects(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (n->op != "Where" || n->inputs.size() != 3 || !n->output(0)) continue;
    const ir::Value* cond = n->inputs[0];
    if (!cond || !cond->is_constant()) continue;
    int choice = uniform_condition(*cond->constant);
    if (choice < 0) continue;
    ir::Value* chosen = n->inputs[choice == 1 ? 1 : 2];
    // Broadcasting against the condition or the other branch could change the shape.
    if (!chosen || !same_type(chosen, n->output(0))) continue;
    changed |= replace_node_output(uses, n, 0, chosen);
  }
  if (changed) graph.remove_unused();
  return changed;
}

}  // namespace kiln::passes
