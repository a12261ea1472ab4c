// Absorbs the head-split and head-merge Transposes around ScaledDotProductAttention into the layer
// (ir/attention_layout.hpp): Q = Transpose(q, p) becomes the attribute q_perm = p on q itself (and
// likewise K and V), and a Transpose that is the only reader of the output becomes y_perm. The
// attention then reads and writes the interleaved layouts through strides and the Transposes,
// each a full copy of an activation, are gone. Only where the head dim stays innermost (the
// kernels read heads as contiguous rows), and only for the layers `wanted` accepts: the builder
// asks for those whose CUDA kernel reads any strides at full speed.
// A Reshape between the Transpose and the attention that only splits axes (PyTorch's MHA export:
// [S, B*H, D] transposed to [B*H, S, D], then split into [B, H, S, D]) is moved in front of the
// Transpose first, as the same split of the stored axes, so the Transpose becomes adjacent.
// An operand sliced out of a larger tensor (Gather of one index after view layers) becomes a
// strided view of that tensor instead (q_view, passes/strided_view.hpp). Around PyTorch's MHA
// export, the sequence-first Transposes before the input projection and after the output
// projection also go: the first moves behind the (row-wise) projection into the view chain, and
// the attention writes its rows in the order the last one wanted.
#include <algorithm>
#include <numeric>

#include "core/error.hpp"

#include "ir/attention_layout.hpp"
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"
#include "passes/strided_view.hpp"

namespace kiln::passes {
namespace {

// The stored axis that ends up as logical axis `axis` must be the innermost stored one.
bool keeps_innermost(const std::vector<int64_t>& perm, size_t axis) {
  return perm[axis] == static_cast<int64_t>(perm.size()) - 1;
}

// Reshape(Transpose(x, p)) where the Reshape splits each transposed axis into consecutive output
// axes becomes Transpose(Reshape(x, split of x's axes), p'): the Reshape node is rewired to read x
// (it stays a view), and the Transpose, now feeding nothing, is returned for absorption with p'.
// Returns nullptr (graph unchanged) when the Reshape is not such a split.
ir::Node* hoist_split_reshape(UseIndex& g, ir::Node* reshape, std::vector<int64_t>& perm_out) {
  ir::Node* t = producer_op(reshape->inputs[0], "Transpose");
  if (!t || !used_only_by(g, reshape->inputs[0], {reshape})) return nullptr;
  std::optional<std::vector<int64_t>> perm = perm_of(t);
  std::optional<Shape> x = static_shape(t->inputs[0]);
  std::optional<Shape> mid = static_shape(t->outputs[0]);
  std::optional<Shape> out = static_shape(reshape->outputs[0]);
  if (!perm || !x || !mid || !out || perm->size() != x->size()) return nullptr;
  // A 0 in Reshape's shape would mean "copy this dim"; empty tensors are not worth it anyway.
  if (shape_numel(*x) == 0) return nullptr;
  // Group the output axes: transposed axis j becomes out[first[j] .. first[j + 1]).
  std::vector<size_t> first;
  size_t o = 0;
  for (int64_t extent : *mid) {
    first.push_back(o);
    if (o >= out->size()) return nullptr;
    int64_t product = (*out)[o++];
    while (product < extent && o < out->size()) product *= (*out)[o++];
    if (product != extent) return nullptr;
  }
  first.push_back(o);
  if (o != out->size()) return nullptr;
  // Stored axis i = transposed axis j with perm[j] == i: its factors, in stored order.
  std::vector<int64_t> inverse(perm->size());
  for (size_t j = 0; j < perm->size(); ++j) inverse[static_cast<size_t>((*perm)[j])] = j;
  Shape split;
  std::vector<size_t> split_start(perm->size());
  for (size_t i = 0; i < perm->size(); ++i) {
    const auto j = static_cast<size_t>(inverse[i]);
    split_start[i] = split.size();
    for (size_t a = first[j]; a < first[j + 1]; ++a) split.push_back((*out)[a]);
  }
  perm_out.clear();
  for (size_t j = 0; j < perm->size(); ++j) {
    const size_t start = split_start[static_cast<size_t>((*perm)[j])];
    for (size_t a = 0; a < first[j + 1] - first[j]; ++a)
      perm_out.push_back(static_cast<int64_t>(start + a));
  }
  g.set_input(reshape, 0, t->inputs[0]);
  g.set_input(reshape, 1, add_int64_constant(g.graph(), reshape->name + "_split", split));
  reshape->outputs[0]->shape = ir::to_sym_shape(split);
  return t;
}

// An operand sliced out of a larger tensor by a chain of view layers with a Gather among them
// (PyTorch's MHA export takes Q, K and V out of one projection with Gather(0..2) after a
// Transpose): the attention reads it as a strided view of that tensor (q_view), which removes the
// Transpose and the Gathers. Chains without a slice take the perm forms below.
bool absorb_slice(UseIndex& uses, ir::Node* n, int i, bool k_transposed) {
  if (i == 1 && k_transposed) return false;
  std::optional<ViewChain> chain = view_chain(n->inputs[static_cast<size_t>(i)]);
  if (!chain || chain->view.shape.size() < 2 || chain->view.strides.back() != 1) return false;
  const bool slices = std::any_of(chain->nodes.begin(), chain->nodes.end(),
                                  [](const ir::Node* c) { return c->op == "Gather"; });
  if (!slices) return false;
  std::vector<int64_t> view = {chain->view.offset};
  for (size_t d = 0; d < chain->view.shape.size(); ++d) {
    view.push_back(chain->view.shape[d]);
    view.push_back(chain->view.strides[d]);
  }
  uses.set_input(n, static_cast<size_t>(i), chain->source);
  n->attrs.set(ir::kAttentionViewAttrs[i], view);
  for (const ir::Node* c : chain->nodes)
    n->origins.insert(n->origins.end(), c->origins.begin(), c->origins.end());
  return true;
}

bool absorb_inputs(UseIndex& g, ir::Node* n) {
  bool changed = false;
  const bool k_transposed = n->attrs.get_int("k_transposed", 0) != 0;
  for (int i = 0; i < 3; ++i) {
    if (n->attrs.has(ir::kAttentionPermAttrs[i]) || n->attrs.has(ir::kAttentionViewAttrs[i]))
      continue;
    ir::Value* in = n->inputs[static_cast<size_t>(i)];
    if (!used_only_by(g, in, {n})) continue;
    // The head dim: last for Q and V, and for K unless K is given transposed ([.., D, Sk]).
    auto head_axis = [&](size_t rank) { return i == 1 && k_transposed ? rank - 2 : rank - 1; };
    if (absorb_slice(g, n, i, k_transposed)) {
      changed = true;
    } else if (ir::Node* t = producer_op(in, "Transpose")) {
      std::optional<std::vector<int64_t>> perm = perm_of(t);
      if (!perm || perm->size() < 2 || !keeps_innermost(*perm, head_axis(perm->size()))) continue;
      g.set_input(n, static_cast<size_t>(i), t->inputs[0]);
      n->attrs.set(ir::kAttentionPermAttrs[i], *perm);
      n->origins.insert(n->origins.end(), t->origins.begin(), t->origins.end());
      changed = true;
    } else if (ir::Node* r = producer_op(in, "Reshape")) {
      // The head dim must be (the last factor of) the transposed tensor's last axis, stored
      // innermost; checked before hoist_split_reshape rewires anything.
      ir::Node* t = producer_op(r->inputs[0], "Transpose");
      std::optional<std::vector<int64_t>> tp = t ? perm_of(t) : std::nullopt;
      if (!tp || tp->back() != static_cast<int64_t>(tp->size()) - 1 || (i == 1 && k_transposed))
        continue;
      std::vector<int64_t> perm;
      if (!hoist_split_reshape(g, r, perm)) continue;
      if (!keeps_innermost(perm, head_axis(perm.size()))) {
        fail(ErrorCode::kInternal, n->describe(), ": a hoisted head split moved the head dim");
      }
      n->attrs.set(ir::kAttentionPermAttrs[i], perm);
      n->origins.insert(n->origins.end(), t->origins.begin(), t->origins.end());
      changed = true;
    }
  }
  return changed;
}

bool absorb_output(UseIndex& g, ir::Node* n) {
  if (n->attrs.has(ir::kAttentionPermAttrs[3])) return false;
  ir::Node* t = sole_consumer(g, n->outputs[0]);
  if (!t || t->op != "Transpose" || !t->domain.empty()) return false;
  std::optional<std::vector<int64_t>> perm = perm_of(t);
  // Stored axis j holds logical axis perm[j]: Dv (the last logical axis) must stay innermost.
  if (!perm || perm->size() < 2 || perm->back() != static_cast<int64_t>(perm->size()) - 1)
    return false;
  ir::Value* merged = t->outputs[0];
  n->origins.insert(n->origins.end(), t->origins.begin(), t->origins.end());
  g.remove_node(t);
  n->outputs[0] = merged;
  merged->producer = n;
  n->attrs.set(ir::kAttentionPermAttrs[3], *perm);
  return true;
}

// PyTorch's MHA export runs the input projection on Transpose(x, (1, 0, 2)) (sequence first).
// A product that acts row by row commutes with a Transpose that keeps the last axis, so the
// Transpose moves behind it, into the view chain the attention absorbs: one copy less a layer.
// Only when every reader of the product is a view layer (the chain that slices Q, K and V).
bool sink_transpose_behind_projection(UseIndex& uses, ir::Node* n) {
  ir::Graph& g = uses.graph();
  bool changed = false;
  for (int i = 0; i < 3; ++i) {
    std::optional<ViewChain> chain = view_chain(n->inputs[static_cast<size_t>(i)]);
    ir::Value* product = chain ? chain->source : n->inputs[static_cast<size_t>(i)];
    ir::Node* m = product->producer;
    if (!is_row_wise_product(m) || uses.is_graph_output(product)) continue;
    ir::Node* t = producer_op(m->inputs[0], "Transpose");
    if (!t || !used_only_by(uses, m->inputs[0], {m})) continue;
    std::optional<std::vector<int64_t>> perm = perm_of(t);
    if (!perm || perm->size() < 2 || !keeps_innermost(*perm, perm->size() - 1)) continue;
    std::vector<ir::Node*> readers = uses.consumers(product);
    if (readers.empty() || !std::all_of(readers.begin(), readers.end(),
                                        [](const ir::Node* r) { return is_view_op(r); }))
      continue;
    ir::Value* x = t->inputs[0];
    if (!x->shape || !product->shape) continue;
    ir::SymShape rows = *x->shape;
    rows.back() = product->shape->back();
    ir::Value* unpermuted =
        g.add_value(g.unique_value_name(product->name + "_rows"), product->dtype, rows);
    uses.set_input(m, 0, x);
    m->outputs[0] = unpermuted;
    unpermuted->producer = m;
    ir::Node* moved = uses.add_node("Transpose", g.unique_node_name(t->name + "_after_product"),
                                    {unpermuted}, {product});
    moved->attrs.set("perm", *perm);
    moved->origins = t->origins;
    changed = true;
  }
  return changed;
}

// The mirror on the output side: Y (written with y_perm as [S, B, heads...]) -> Reshape
// [S*B, E] -> row-wise product -> Reshape [S, B, N] -> Transpose(1, 0, 2). The attention can
// write its rows in the Transpose's order instead (a different y_perm), the Reshapes take the
// reordered dims, and the Transpose goes.
bool write_rows_in_merged_order(UseIndex& g, ir::Node* n) {
  if (!n->attrs.has(ir::kAttentionPermAttrs[3])) return false;
  ir::Value* y = n->outputs[0];
  ir::Node* r1 = sole_consumer(g, y);
  if (!r1 || r1->op != "Reshape" || !r1->domain.empty()) return false;
  ir::Node* m = sole_consumer(g, r1->outputs[0]);
  if (!is_row_wise_product(m) || m->inputs[0] != r1->outputs[0]) return false;
  ir::Node* r2 = sole_consumer(g, m->outputs[0]);
  if (!r2 || r2->op != "Reshape" || !r2->domain.empty()) return false;
  ir::Node* t = sole_consumer(g, r2->outputs[0]);
  if (!t || t->op != "Transpose" || !t->domain.empty()) return false;
  std::optional<std::vector<int64_t>> perm = perm_of(t);
  std::optional<Shape> ys = static_shape(y), flat = static_shape(r1->outputs[0]);
  std::optional<Shape> rows = static_shape(r2->outputs[0]), out = static_shape(t->outputs[0]);
  if (!perm || !ys || !flat || !rows || !out || flat->size() != 2 || rows->size() < 2) return false;
  if (!keeps_innermost(*perm, perm->size() - 1)) return false;
  // The token dims: R2's leading dims must be Y's leading dims, and the rest of Y one row.
  const size_t k = rows->size() - 1;
  if (ys->size() <= k || !std::equal(rows->begin(), rows->begin() + k, ys->begin())) return false;
  const int64_t tokens = shape_numel(Shape(rows->begin(), rows->begin() + k));
  const int64_t width = shape_numel(Shape(ys->begin() + k, ys->end()));
  if ((*flat)[0] != tokens || (*flat)[1] != width) return false;
  std::vector<int64_t> y_perm = n->attrs.get_ints(ir::kAttentionPermAttrs[3]);
  std::vector<int64_t> reordered = y_perm;
  for (size_t j = 0; j < k; ++j) reordered[j] = y_perm[static_cast<size_t>((*perm)[j])];
  Shape stored = *ys;
  for (size_t j = 0; j < k; ++j) stored[j] = (*ys)[static_cast<size_t>((*perm)[j])];
  n->attrs.set(ir::kAttentionPermAttrs[3], reordered);
  y->shape = ir::to_sym_shape(stored);
  g.set_input(r2, 1, add_int64_constant(g.graph(), r2->name + "_reordered", *out));
  ir::Value* merged = t->outputs[0];
  n->origins.insert(n->origins.end(), t->origins.begin(), t->origins.end());
  g.remove_node(t);
  r2->outputs[0] = merged;
  merged->producer = r2;
  return true;
}

}  // namespace

bool absorb_attention_transposes(ir::Graph& graph,
                                 const std::function<bool(const ir::Node&)>& wanted) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : attention_layers(graph, wanted)) {
    changed |= sink_transpose_behind_projection(uses, n);
    changed |= absorb_inputs(uses, n);
    changed |= absorb_output(uses, n);
    changed |= write_rows_in_merged_order(uses, n);
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    tidy_after_rewrite(graph);
  }
  return changed;
}

}  // namespace kiln::passes
