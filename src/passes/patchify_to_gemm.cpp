// A convolution whose kernel tiles its input exactly (stride = kernel, no padding, no dilation, one
// group: ViT's and Swin's patch embedding) is a GEMM over patches:
//   Conv(x [B,C,H,W], w [K,C,p,q], bias)
//     = Transpose(Reshape(Gemm(Reshape(Transpose(Reshape(x, [B,C,H/p,p,W/q,q]),
//                                                (0,2,4,1,3,5)), [B*H/p*W/q, C*p*q]),
//                              Reshape(w, [K, C*p*q]), bias, transB=1), [B,H/p,W/q,K]), (0,3,1,2))
// GPU convolution libraries run such a layer far below the matrix units' rate when C is small (3
// image channels cannot fill a tensor-core tile); one transpose of the input and one GEMM can.
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  for (int64_t e : v) {
    if (e != x) return false;
  }
  return true;
}

// The patch size (p, q) when `conv` is a patch embedding this pass rewrites.
std::optional<std::pair<int64_t, int64_t>> patch_of(const ir::Node& conv) {
  if (conv.op != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2) return std::nullopt;
  const ir::Value* w = conv.inputs[1];
  std::optional<Shape> x = static_shape(conv.inputs[0]);
  std::optional<Shape> ws = static_shape(w);
  if (!w->is_constant() || !x || !ws || x->size() != 4 || ws->size() != 4) return std::nullopt;
  const int64_t p = (*ws)[2], q = (*ws)[3];
  if (p * q <= 1) return std::nullopt;  // a 1x1 convolution is already a GEMM to the libraries
  if (conv.attrs.get_int("group", 1) != 1) return std::nullopt;
  if (conv.attrs.get_string("auto_pad", "NOTSET") != "NOTSET" &&
      conv.attrs.get_string("auto_pad", "NOTSET") != "VALID")
    return std::nullopt;
  if (!all_equal(conv.attrs.get_ints("pads", {0, 0, 0, 0}), 0) ||
      !all_equal(conv.attrs.get_ints("dilations", {1, 1}), 1) ||
      conv.attrs.get_ints("strides", {1, 1}) != std::vector<int64_t>{p, q})
    return std::nullopt;
  if ((*x)[2] % p != 0 || (*x)[3] % q != 0 || shape_numel(*x) == 0) return std::nullopt;
  return std::make_pair(p, q);
}

void rewrite(ir::Graph& g, ir::Node* conv, int64_t p, int64_t q) {
  ir::Value* x = conv->inputs[0];
  ir::Value* w = conv->inputs[1];
  ir::Value* bias = conv->input(2);
  ir::Value* y = conv->outputs[0];
  const Shape xs = *static_shape(x);
  const Shape ws = *static_shape(w);
  const int64_t b = xs[0], c = xs[1], hp = xs[2] / p, wq = xs[3] / q, k = ws[0];
  const std::string base = conv->name;
  const auto origins = conv->origins;  // conv is removed before the last node is added
  auto value = [&](const std::string& suffix, const Shape& s) {
    return g.add_value(g.unique_value_name(base + suffix), x->dtype, ir::to_sym_shape(s));
  };
  auto node = [&](const std::string& op, const std::string& suffix, std::vector<ir::Value*> in,
                  ir::Value* out) {
    ir::Node* n = g.add_node(op, g.unique_node_name(base + suffix), std::move(in), {out});
    n->origins = origins;
    return n;
  };
  ir::Value* split = value("_patches6d", {b, c, hp, p, wq, q});
  node("Reshape", "_split", {x, add_int64_constant(g, base + "_split_shape", {b, c, hp, p, wq, q})},
       split);
  ir::Value* moved = value("_patches", {b, hp, wq, c, p, q});
  node("Transpose", "_gather_patches", {split}, moved)
      ->attrs.set("perm", std::vector<int64_t>{0, 2, 4, 1, 3, 5});
  ir::Value* rows = value("_rows", {b * hp * wq, c * p * q});
  node("Reshape", "_rows",
       {moved, add_int64_constant(g, base + "_rows_shape", {b * hp * wq, c * p * q})}, rows);
  ir::Value* flat_w =
      g.add_constant(g.unique_value_name(w->name + "_as_matrix"),
                     Tensor::from_bytes(w->dtype, {k, c * p * q}, w->constant->bytes()));
  std::vector<ir::Value*> gemm_in = {rows, flat_w};
  if (bias) gemm_in.push_back(bias);
  ir::Value* product = value("_gemm", {b * hp * wq, k});
  node("Gemm", "_gemm", gemm_in, product)->attrs.set("transB", int64_t{1});
  ir::Value* nhwc = value("_nhwc", {b, hp, wq, k});
  node("Reshape", "_nhwc", {product, add_int64_constant(g, base + "_nhwc_shape", {b, hp, wq, k})},
       nhwc);
  g.remove_node(conv);
  node("Transpose", "_to_nchw", {nhwc}, y)->attrs.set("perm", std::vector<int64_t>{0, 3, 1, 2});
}

}  // namespace

bool patchify_to_gemm(ir::Graph& graph) {
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (auto patch = patch_of(*n)) {
      rewrite(graph, n, patch->first, patch->second);
      changed = true;
    }
  }
  if (changed) tidy_after_rewrite(graph);
  return changed;
}

}  // namespace kiln::passes
