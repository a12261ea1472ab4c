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
// strided view of that tensor instead (q_view, passes/strided_view.hpp).
#include <algorithm>
#include <numeric>

#include "core/error.hpp"

#include "ir/attention_layout.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/strided_view.hpp"

namespace kiln::passes {
namespace {

std::optional<std::vector<int64_t>> perm_of(const ir::Node* t) {
  if (t->attrs.has("perm")) return t->attrs.get_ints("perm");
  const ir::Value* x = t->inputs[0];
  if (!x->shape) return std::nullopt;
  std::vector<int64_t> p(x->shape->size());
  std::iota(p.rbegin(), p.rend(), 0);
  return p;
}

// The stored axis that ends up as logical axis `axis` must be the innermost stored one.
bool keeps_innermost(const std::vector<int64_t>& perm, size_t axis) {
  return perm[axis] == static_cast<int64_t>(perm.size()) - 1;
}

std::optional<Shape> static_shape(const ir::Value* v) {
  if (!v || !v->shape) return std::nullopt;
  Shape s;
  for (const ir::Dim& d : *v->shape) {
    if (!d.known()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

// Reshape(Transpose(x, p)) where the Reshape splits each transposed axis into consecutive output
// axes becomes Transpose(Reshape(x, split of x's axes), p'): the Reshape node is rewired to read x
// (it stays a view), and the Transpose, now feeding nothing, is returned for absorption with p'.
// Returns nullptr (graph unchanged) when the Reshape is not such a split.
ir::Node* hoist_split_reshape(ir::Graph& g, ir::Node* reshape, std::vector<int64_t>& perm_out) {
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
  std::vector<int64_t> dims(split.begin(), split.end());
  reshape->inputs[0] = t->inputs[0];
  reshape->inputs[1] = g.add_constant(
      g.unique_value_name(reshape->name + "_split"),
      Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(dims.size())}, dims));
  reshape->outputs[0]->shape = ir::to_sym_shape(split);
  return t;
}

// An operand sliced out of a larger tensor by a chain of view layers with a Gather among them
// (PyTorch's MHA export takes Q, K and V out of one projection with Gather(0..2) after a
// Transpose): the attention reads it as a strided view of that tensor (q_view), which removes the
// Transpose and the Gathers. Chains without a slice take the perm forms below.
bool absorb_slice(ir::Node* n, int i, bool k_transposed) {
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
  n->inputs[static_cast<size_t>(i)] = chain->source;
  n->attrs.set(ir::kAttentionViewAttrs[i], view);
  for (const ir::Node* c : chain->nodes)
    n->origins.insert(n->origins.end(), c->origins.begin(), c->origins.end());
  return true;
}

bool absorb_inputs(ir::Graph& g, ir::Node* n) {
  bool changed = false;
  const bool k_transposed = n->attrs.get_int("k_transposed", 0) != 0;
  for (int i = 0; i < 3; ++i) {
    if (n->attrs.has(ir::kAttentionPermAttrs[i]) || n->attrs.has(ir::kAttentionViewAttrs[i]))
      continue;
    ir::Value* in = n->inputs[static_cast<size_t>(i)];
    if (!used_only_by(g, in, {n})) continue;
    // The head dim: last for Q and V, and for K unless K is given transposed ([.., D, Sk]).
    auto head_axis = [&](size_t rank) { return i == 1 && k_transposed ? rank - 2 : rank - 1; };
    if (absorb_slice(n, i, k_transposed)) {
      changed = true;
    } else if (ir::Node* t = producer_op(in, "Transpose")) {
      std::optional<std::vector<int64_t>> perm = perm_of(t);
      if (!perm || perm->size() < 2 || !keeps_innermost(*perm, head_axis(perm->size()))) continue;
      n->inputs[static_cast<size_t>(i)] = t->inputs[0];
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

bool absorb_output(ir::Graph& g, ir::Node* n) {
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

}  // namespace

bool absorb_attention_transposes(ir::Graph& graph,
                                 const std::function<bool(const ir::Node&)>& wanted) {
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (n->op != "ScaledDotProductAttention" || (wanted && !wanted(*n))) continue;
    changed |= absorb_inputs(graph, n);
    changed |= absorb_output(graph, n);
  }
  if (changed) graph.remove_unused();
  return changed;
}

}  // namespace kiln::passes
