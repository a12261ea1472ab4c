// Folds inference-mode BatchNormalization into the linear layer before it. BN computes, per
// channel c, y = x * s[c] + t[c] with s = scale / sqrt(var + eps) and t = bias - mean * s; after a
// Conv/ConvTranspose (channel = output channel) or a Gemm/MatMul with a 2-D output (channel =
// output column) that is the same as scaling the weight's output channels by s and adding t to
// the bias. A BatchNormalization with no foldable producer stays: its kernel already is that one
// per-channel scale and shift.
#include <cmath>

#include "passes/linear_layer.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool output_used(const UseIndex& uses, const ir::Node& n, size_t i) {
  const ir::Value* v = n.output(i);
  return v && (uses.is_graph_output(v) || uses.has_consumers(v));
}

// The BN's per-channel scale s and shift t, when its statistics are constants of `channels`
// values and it runs in inference mode.
bool bn_scale_shift(const UseIndex& uses, const ir::Node& bn, int64_t channels,
                    std::vector<double>& s, std::vector<double>& t) {
  if (bn.attrs.get_int("training_mode", 0) != 0 || output_used(uses, bn, 1) ||
      output_used(uses, bn, 2))
    return false;
  std::vector<double> params[4];
  for (size_t i = 0; i < 4; ++i) {
    const ir::Value* v = bn.input(i + 1);
    if (!v || !v->is_constant() || !is_foldable_float(v->dtype) || v->constant->numel() != channels)
      return false;
    params[i] = to_doubles(*v->constant);
  }
  double eps = bn.attrs.get_float("epsilon", 1e-5f);
  s.resize(static_cast<size_t>(channels));
  t.resize(s.size());
  for (size_t c = 0; c < s.size(); ++c) {
    s[c] = params[0][c] / std::sqrt(params[3][c] + eps);
    t[c] = params[1][c] - params[2][c] * s[c];
  }
  return true;
}

}  // namespace

bool fold_batchnorm(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* bn : graph.node_list()) {
    if (bn->op != "BatchNormalization" || !bn->domain.empty() || !bn->input(0)) continue;
    ir::Value* x = bn->inputs[0];
    if (!x->producer || !only_used_by(uses, x, bn)) continue;
    auto layer = as_linear_layer(x->producer);
    // BN normalizes axis 1: a Conv's channels, or the columns of a 2-D matmul output.
    if (!layer || layer->channel_axis() != 1 || !can_shift(*layer)) continue;
    std::vector<double> s, t;
    if (!bn_scale_shift(uses, *bn, layer->channels, s, t)) continue;
    if (!scale_output_channels(uses, *layer, s)) continue;
    shift_output_channels(uses, *layer, t);  // can_shift said it succeeds
    merge_origins(layer->node, bn);
    replace_node_output(uses, bn, 0, x);
    uses.remove_node(bn);
    changed = true;
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    graph.remove_unused();
  }
  return changed;
}

}  // namespace kiln::passes
