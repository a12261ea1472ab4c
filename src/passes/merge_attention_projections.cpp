// The Q, K and V projections of an attention layer as one product: three MatMuls (or FusedMatMuls
// with a bias row) that read the same input with constant [E, N] weights become one with the
// weights side by side ([E, 3N]) and biases concatenated, and each projection becomes a slice of
// its output (Reshape [..., 3, N] and Gather of one index, views that absorb_attention_transposes
// then reads through strides). One launch instead of three, and a wider product that uses the GPU
// better at small batches.
#include <algorithm>
#include <cstring>

#include "ir/activation.hpp"
#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"
#include "passes/strided_view.hpp"

namespace kiln::passes {
namespace {

// A projection this pass can merge: x @ W (+ bias row), W constant [E, N], nothing else fused.
bool is_plain_projection(const UseIndex& g, const ir::Node* m) {
  if (!is_row_wise_product(m) || m->op == "Gemm") return false;
  if (m->attrs.get_int("transB", 0) != 0 || m->attrs.get_float("alpha", 1.0f) != 1.0f) return false;
  if (ir::read_activation(m->attrs).kind != ir::ActivationKind::kNone) return false;
  std::optional<Shape> w = static_shape(m->input(1));
  if (!w) return false;
  if (const ir::Value* bias = m->input(2)) {
    std::optional<Shape> b = static_shape(bias);
    if (!bias->is_constant() || !b || shape_numel(*b) != (*w)[1] ||
        bias->dtype != m->input(1)->dtype)
      return false;
  }
  // Its output feeds only view layers (the slices the attention will read).
  const ir::Value* y = m->outputs[0];
  if (g.is_graph_output(y) || !static_shape(y)) return false;
  std::vector<ir::Node*> readers = g.consumers(y);
  return !readers.empty() && std::all_of(readers.begin(), readers.end(),
                                         [](const ir::Node* r) { return is_view_op(r); });
}

// [E, N] matrices side by side: row e of the result is row e of each in turn.
Tensor side_by_side(const std::vector<const Tensor*>& parts) {
  const int64_t rows = parts[0]->shape()[0];
  int64_t cols = 0;
  for (const Tensor* t : parts) cols += t->shape()[1];
  const size_t es = element_size(parts[0]->dtype());
  Tensor out(parts[0]->dtype(), {rows, cols});
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t r = 0; r < rows; ++r) {
    for (const Tensor* t : parts) {
      const size_t row_bytes = static_cast<size_t>(t->shape()[1]) * es;
      std::memcpy(dst, t->bytes().data() + static_cast<size_t>(r) * row_bytes, row_bytes);
      dst += row_bytes;
    }
  }
  return out;
}

bool merge(UseIndex& uses, ir::Node* sdpa) {
  ir::Graph& g = uses.graph();
  ir::Node* m[3] = {};
  for (int i = 0; i < 3; ++i) {
    std::optional<ViewChain> chain = view_chain(sdpa->inputs[static_cast<size_t>(i)]);
    ir::Value* source = chain ? chain->source : sdpa->inputs[static_cast<size_t>(i)];
    m[i] = source->producer;
    if (!is_plain_projection(uses, m[i])) return false;
  }
  if (m[0] == m[1] || m[1] == m[2] || m[0] == m[2]) return false;
  const ir::Value* x = m[0]->inputs[0];
  const Shape w0 = *static_shape(m[0]->inputs[1]);
  for (ir::Node* p : m) {
    if (p->inputs[0] != x || *static_shape(p->inputs[1]) != w0 ||
        p->inputs[1]->dtype != m[0]->inputs[1]->dtype ||
        (p->input(2) == nullptr) != (m[0]->input(2) == nullptr))
      return false;
  }
  const int64_t n = w0[1];
  ir::Value* y0 = m[0]->outputs[0];
  const Shape rows = *static_shape(y0);  // [..., N]
  const std::string base = m[0]->name + "_qkv";
  ir::Value* w =
      g.add_constant(g.unique_value_name(base + "_weight"),
                     side_by_side({&*m[0]->inputs[1]->constant, &*m[1]->inputs[1]->constant,
                                   &*m[2]->inputs[1]->constant}));
  std::vector<ir::Value*> inputs = {const_cast<ir::Value*>(x), w};
  if (m[0]->input(2)) {
    std::vector<const Tensor*> biases;
    std::vector<Tensor> as_rows;
    for (ir::Node* p : m) {
      as_rows.push_back(
          Tensor::from_bytes(p->inputs[2]->dtype, {1, n}, p->inputs[2]->constant->bytes()));
    }
    for (const Tensor& t : as_rows) biases.push_back(&t);
    Tensor row = side_by_side(biases);
    inputs.push_back(g.add_constant(g.unique_value_name(base + "_bias"),
                                    Tensor::from_bytes(row.dtype(), {3 * n}, row.bytes())));
  }
  Shape merged_shape = rows;
  merged_shape.back() = 3 * n;
  ir::Value* merged =
      g.add_value(g.unique_value_name(base), y0->dtype, ir::to_sym_shape(merged_shape));
  ir::Node* product = uses.add_node(m[0]->op, g.unique_node_name(base), inputs, {merged});
  for (const auto& [k, v] : m[0]->attrs.all()) product->attrs.set(k, v);
  Shape split_shape = rows;
  split_shape.back() = 3;
  split_shape.push_back(n);
  ir::Value* split =
      g.add_value(g.unique_value_name(base + "_split"), y0->dtype, ir::to_sym_shape(split_shape));
  std::vector<int64_t> dims(split_shape.begin(), split_shape.end());
  ir::Node* reshape =
      uses.add_node("Reshape", g.unique_node_name(base + "_split"),
                    {merged, add_int64_constant(g, base + "_split_shape", dims)}, {split});
  copy_layer_precision(*m[0], *reshape);
  for (int i = 0; i < 3; ++i) {
    product->origins.insert(product->origins.end(), m[i]->origins.begin(), m[i]->origins.end());
    ir::Value* out = m[i]->outputs[0];
    uses.remove_node(m[i]);
    ir::Value* index =
        g.add_constant(g.unique_value_name(base + "_part"),
                       Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{i}));
    ir::Node* gather =
        uses.add_node("Gather", g.unique_node_name(base + "_part"), {split, index}, {out});
    gather->attrs.set("axis", static_cast<int64_t>(split_shape.size()) - 2);
    copy_layer_precision(*reshape, *gather);
  }
  return true;
}

}  // namespace

bool merge_attention_projections(ir::Graph& graph,
                                 const std::function<bool(const ir::Node&)>& wanted) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : attention_layers(graph, wanted)) changed |= merge(uses, n);
  if (changed) {
    uses.remove_forgotten_nodes();
    tidy_after_rewrite(graph);
  }
  return changed;
}

}  // namespace kiln::passes
