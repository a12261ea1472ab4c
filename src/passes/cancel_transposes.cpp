// Cancels layout changes that undo or repeat each other:
//   Transpose(Transpose(x, p1), p2)  -> Transpose(x, p1 o p2), or x when that is the identity
//   Reshape(Reshape(x, s1), s2)      -> Reshape(x, s2) when s2 is a constant that does not copy
//                                        dims from its input (no 0 entries, or allowzero=1)
//   Transpose(E(Transpose(x, p), c...), inverse(p)) -> E(x, c...) for an elementwise op E whose
//                                        other operands are scalars
// The first two leave the inner layer to dead-code removal when nothing else reads it.
#include <algorithm>
#include <numeric>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool is_op(const ir::Node* n, const char* op) {
  return n && n->op == op && n->domain.empty();
}

bool is_identity(const std::vector<int64_t>& p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// Transpose(Transpose(x, p1), p2): out[i] = x[p1[p2[i]]].
bool fold_transpose_pair(UseIndex& g, ir::Node* outer) {
  ir::Node* inner = producer_op(outer->inputs[0], "Transpose");
  if (!inner) return false;
  auto p1 = perm_of(inner), p2 = perm_of(outer);
  if (!p1 || !p2 || p1->size() != p2->size()) return false;
  std::vector<int64_t> q(p2->size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = (*p1)[static_cast<size_t>((*p2)[i])];
  ir::Value* x = inner->inputs[0];
  if (is_identity(q)) return replace_node_output(g, outer, 0, x);
  g.set_input(outer, 0, x);
  outer->attrs.set("perm", q);
  outer->origins.insert(outer->origins.end(), inner->origins.begin(), inner->origins.end());
  return true;
}

bool fold_reshape_pair(UseIndex& g, ir::Node* outer) {
  ir::Node* inner = producer_op(outer->inputs[0], "Reshape");
  const ir::Value* shape = outer->inputs.size() > 1 ? outer->inputs[1] : nullptr;
  if (!inner || !shape || !shape->is_constant() || shape->dtype != DataType::kInt64) return false;
  const int64_t* s = shape->constant->data<int64_t>();
  const bool copies = std::find(s, s + shape->constant->numel(), 0) != s + shape->constant->numel();
  if (copies && outer->attrs.get_int("allowzero", 0) == 0) return false;
  g.set_input(outer, 0, inner->inputs[0]);
  outer->origins.insert(outer->origins.end(), inner->origins.begin(), inner->origins.end());
  return true;
}

// Ops that act on each element alone, so they commute with any permutation of the axes.
bool is_elementwise(const ir::Node* n) {
  return ir::op_traits(*n).elementwise != ir::ElementwiseClass::kNone && n->outputs.size() == 1;
}

// Transpose(E(Transpose(x, p), scalars...), inverse(p)) -> E(x, scalars...).
bool cancel_around_elementwise(UseIndex& g, ir::Node* outer) {
  ir::Value* mid = outer->inputs[0];
  ir::Node* e = mid->producer;
  if (!e || !is_elementwise(e) || !used_only_by(g, mid, {outer})) return false;
  auto p2 = perm_of(outer);
  if (!p2) return false;
  ir::Node* inner = nullptr;
  size_t tensor_operand = 0;
  for (size_t i = 0; i < e->inputs.size(); ++i) {
    ir::Value* in = e->inputs[i];
    if (!in) continue;
    if (in->is_constant() && in->constant->numel() == 1 && in->shape &&
        in->shape->size() <= p2->size())
      continue;               // a scalar broadcasts the same either way
    if (inner) return false;  // only one transposed operand
    inner = producer_op(in, "Transpose");
    tensor_operand = i;
    if (!inner || !used_only_by(g, in, {e})) return false;
  }
  if (!inner) return false;
  auto p1 = perm_of(inner);
  if (!p1 || p1->size() != p2->size()) return false;
  for (size_t i = 0; i < p2->size(); ++i) {
    if ((*p1)[static_cast<size_t>((*p2)[i])] != static_cast<int64_t>(i)) return false;
  }
  // E now reads x, and its result (in x's layout, since its other operands are scalars) stands in
  // for the outer Transpose's.
  ir::Value* x = inner->inputs[0];
  if (!x->shape || x->shape->size() != p2->size()) return false;
  g.set_input(e, tensor_operand, x);
  if (!replace_node_output(g, outer, 0, mid)) {
    g.set_input(e, tensor_operand, inner->outputs[0]);
    return false;
  }
  mid->shape = x->shape;
  for (const ir::Node* n : {inner, outer}) {
    e->origins.insert(e->origins.end(), n->origins.begin(), n->origins.end());
  }
  return true;
}

}  // namespace

bool cancel_transposes(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (is_op(n, "Transpose")) {
      // Rewrites only rewire; nodes left unused go after the loop.
      changed |= fold_transpose_pair(uses, n) || cancel_around_elementwise(uses, n);
    } else if (is_op(n, "Reshape")) {
      changed |= fold_reshape_pair(uses, n);
    }
  }
  if (changed) {
    graph.remove_unused();
    graph.sort_topologically();
    ir::infer_graph(graph);
  }
  return changed;
}

}  // namespace kiln::passes
