// Folds arithmetic with constants into the linear layer before it: Mul/Div by a constant that
// is one value per output channel (or a scalar) scales the weight and bias; Add/Sub of such a
// constant (for Gemm/MatMul, any constant that broadcasts to the output) shifts the bias; c - y
// does both. Also folds Mul by a per-input-channel constant on a Conv's or MatMul's input into
// the weight: (x * c) conv W = x conv (W * c), padding included, since padded zeros stay zero.
#include <cmath>

#include "passes/linear_layer.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool all_finite_nonzero(const std::vector<double>& v) {
  for (double x : v) {
    if (x == 0.0 || !std::isfinite(x)) return false;
  }
  return true;
}

// Folds `n` = op(y, c) (or op(c, y) when `y_first` is false) into y's producer.
bool fold_after(UseIndex& uses, ir::Node* n, LinearLayer& l, const Tensor& c, bool y_first) {
  const std::string& op = n->op;
  if (op == "Mul") {
    auto s = per_channel_values(l, c);
    return s && scale_output_channels(uses, l, *s);
  }
  if (op == "Div") {
    auto s = per_channel_values(l, c);
    if (!y_first || !s || !all_finite_nonzero(*s)) return false;
    for (double& v : *s) v = 1.0 / v;
    return scale_output_channels(uses, l, *s);
  }
  if (op == "Add") return add_to_output(uses, l, c);
  if (op == "Sub") {
    auto t = per_channel_values(l, c);
    if (!t) return false;
    if (y_first) {
      for (double& v : *t) v = -v;
      return shift_output_channels(uses, l, *t);
    }
    // c - y = (-1) * y + c.
    if (!can_shift(l)) return false;
    std::vector<double> minus_one(t->size(), -1.0);
    if (!scale_output_channels(uses, l, minus_one)) return false;
    return shift_output_channels(uses, l, *t);
  }
  return false;
}

// The Mul feeding a Conv's or MatMul's/Gemm's data input, folded into the constant weight when
// its constant is one value per input channel (Conv: axis 1; MatMul: K, the last axis of A).
bool fold_before(UseIndex& uses, ir::Node* mul, ir::Node* layer) {
  ir::Value* y = mul->output(0);
  bool conv = layer->op == "Conv";
  bool matmul =
      layer->op == "MatMul" || (layer->op == "Gemm" && !layer->attrs.get_int("transA", 0));
  if (!conv && !matmul) return false;
  if (layer->input(0) != y || !only_used_by(uses, y, layer)) return false;
  ir::Value* w = layer->input(1);
  if (!w || !w->is_constant() || !is_foldable_float(w->dtype) || w->constant->rank() < 2)
    return false;
  for (size_t side = 0; side < 2; ++side) {
    ir::Value* x = mul->input(side);
    ir::Value* c = mul->input(1 - side);
    if (!x || !c || !c->is_constant() || c->dtype != w->dtype || !x->shape || !y->shape) continue;
    if (x->shape->size() != y->shape->size()) continue;  // c must not broadcast x up
    const Tensor& ct = *c->constant;
    const Tensor& wt = *w->constant;
    size_t rank = y->shape->size();
    size_t axis = conv ? 1 : rank - 1;
    // Input channels: Conv: C = W[1] * group; MatMul/Gemm: K = the weight's row count.
    int64_t group = conv ? layer->attrs.get_int("group", 1) : 1;
    int64_t channels =
        conv ? wt.dim(1) * group
             : (layer->op == "Gemm" && layer->attrs.get_int("transB", 0) ? wt.dim(1)
                                                                         : wt.dim(wt.rank() - 2));
    if (ct.rank() > static_cast<int64_t>(rank)) continue;
    bool per_channel = true;
    for (int64_t i = 0; i < ct.rank(); ++i) {
      bool channel_axis = rank - static_cast<size_t>(ct.rank()) + static_cast<size_t>(i) == axis;
      int64_t d = ct.dim(i);
      if (d != 1 && !(channel_axis && d == channels)) per_channel = false;
    }
    if (!per_channel) continue;
    // x must already have y's shape: c may not broadcast x's channel axis up.
    const ir::Dim& x_channels = (*x->shape)[axis];
    bool c_varies = ct.rank() > 0 && ct.numel() > 1;
    if (c_varies && !(x_channels.known() && x_channels.value == channels)) continue;
    std::vector<double> cv = to_doubles(ct);
    std::vector<double> wv = to_doubles(wt);
    auto at = [&](int64_t ch) { return cv.size() == 1 ? cv[0] : cv[static_cast<size_t>(ch)]; };
    auto n = static_cast<int64_t>(wv.size());
    if (conv) {
      // W [M, C/G, k...]: input channel of W[m, ci] is (m / (M/G)) * C/G + ci.
      int64_t m = wt.dim(0), cg = wt.dim(1), ks = n / (m * cg), mg = m / group;
      for (int64_t i = 0; i < n; ++i) {
        int64_t mi = i / (cg * ks), ci = (i / ks) % cg;
        wv[static_cast<size_t>(i)] *= at((mi / mg) * cg + ci);
      }
    } else {
      // B [.., K, N] (or [N, K] for Gemm with transB): row k of op(B) scales by c[k].
      bool trans = layer->op == "Gemm" && layer->attrs.get_int("transB", 0);
      int64_t cols = wt.dim(wt.rank() - 1), rows = wt.dim(wt.rank() - 2);
      for (int64_t i = 0; i < n; ++i)
        wv[static_cast<size_t>(i)] *= at(trans ? i % cols : (i / cols) % rows);
    }
    ir::Graph& graph = uses.graph();
    uses.set_input(layer, 1,
                   graph.add_constant(graph.unique_value_name(layer->name + "_weight_folded"),
                                      from_doubles(wt.dtype(), wt.shape(), wv)));
    uses.set_input(layer, 0, x);
    merge_origins(layer, mul);
    uses.remove_node(mul);
    return true;
  }
  return false;
}

}  // namespace

bool fold_scale_into_weights(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    const std::string& op = n->op;
    if (uses.forgotten(n) || !n->domain.empty() || n->inputs.size() != 2 || !n->output(0)) continue;
    if (op != "Mul" && op != "Div" && op != "Add" && op != "Sub") continue;
    bool folded = false;
    for (size_t side = 0; side < 2 && !folded; ++side) {
      ir::Value* y = n->input(side);
      ir::Value* c = n->input(1 - side);
      if (!y || !c || !c->is_constant() || !y->producer || !only_used_by(uses, y, n)) continue;
      auto layer = as_linear_layer(y->producer);
      if (!layer || !fold_after(uses, n, *layer, *c->constant, side == 0)) continue;
      merge_origins(layer->node, n);
      replace_node_output(uses, n, 0, y);
      uses.remove_node(n);
      folded = true;
    }
    if (!folded && op == "Mul") {
      ir::Node* user = uses.only_consumer(n->output(0));
      if (user && !uses.is_graph_output(n->output(0))) folded = fold_before(uses, n, user);
    }
    changed |= folded;
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    graph.remove_unused();
  }
  return changed;
}

}  // namespace kiln::passes
