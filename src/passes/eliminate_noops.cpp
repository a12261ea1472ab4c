// Removes layers that pass their input through unchanged: Identity, inference-mode Dropout, and
// Cast/Reshape/Transpose/Expand/Squeeze/Unsqueeze/Flatten whose output provably equals the input.
#include <numeric>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool same_static_shape(const ir::Value* a, const ir::Value* b) {
  if (!a->shape || !b->shape) return false;
  auto sa = ir::to_concrete(*a->shape), sb = ir::to_concrete(*b->shape);
  return sa && sb && *sa == *sb;
}

bool is_noop(const UseIndex& uses, const ir::Node& n) {
  const ir::Value* in = n.input(0);
  const ir::Value* out = n.output(0);
  if (!in || !out) return false;
  if (n.op == "Identity") return true;
  if (n.op == "Dropout") {
    // The mask output (if used) is not a pass-through; training_mode must be a constant false.
    if (n.output(1) && (uses.has_consumers(n.output(1)) || uses.is_graph_output(n.output(1)))) {
      return false;
    }
    const ir::Value* training = n.input(2);
    if (!training) return true;
    return training->is_constant() && training->constant->numel() == 1 &&
           *training->constant->data<uint8_t>() == 0;
  }
  if (in->dtype != out->dtype) return false;
  if (n.op == "Cast") return true;
  if (n.op == "Transpose") {
    if (!n.attrs.has("perm")) return in->shape && in->shape->size() <= 1;
    std::vector<int64_t> perm = n.attrs.get_ints("perm");
    std::vector<int64_t> identity(perm.size());
    std::iota(identity.begin(), identity.end(), 0);
    return perm == identity;
  }
  if (n.op == "Reshape" || n.op == "Expand" || n.op == "Squeeze" || n.op == "Unsqueeze" ||
      n.op == "Flatten") {
    // Only trust shapes that inference derived from constants, not ones a model merely declares.
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      if (n.inputs[i] && !n.inputs[i]->is_constant()) return false;
    }
    return same_static_shape(in, out);
  }
  return false;
}

}  // namespace

bool eliminate_noops(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (is_noop(uses, *n)) changed |= replace_node_output(uses, n, 0, n->inputs[0]);
  }
  if (changed) graph.remove_unused();
  return changed;
}

}  // namespace kiln::passes
