// Rewrites of a linear layer's output channels that weight-folding passes share: scaling them
// (folded into the weight and bias) and shifting them (folded into the bias). A linear layer is a
// Conv, ConvTranspose, Gemm, MatMul, or a FusedConv/FusedMatMul with no activation or residual.
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.hpp"
#include "passes/use_index.hpp"

namespace kiln::passes {

// The float dtypes weights fold in (computed in double, rounded once).
bool is_foldable_float(DataType t);
std::vector<double> to_doubles(const Tensor& t);
Tensor from_doubles(DataType t, Shape shape, const std::vector<double>& values);

// True when `consumer` is the only node reading `v` and `v` is no graph output, so rewriting how
// `v` is computed changes nothing else.
bool only_used_by(const UseIndex& uses, const ir::Value* v, const ir::Node* consumer);

struct LinearLayer {
  ir::Node* node = nullptr;
  bool conv = false;  // channels on axis 1 (Conv family) or the last axis (MatMul family)
  size_t out_rank = 0;
  int64_t channels = 0;  // output channels (N for the MatMul family)

  size_t channel_axis() const { return conv ? 1 : out_rank - 1; }
};

// The node as a linear layer, when its output has a known rank, a float dtype, and a known
// channel count.
std::optional<LinearLayer> as_linear_layer(const ir::Node* node);

// The values of constant `c` per output channel when c, broadcast against the layer's output,
// varies along the channel axis at most and does not enlarge the output: `channels` values.
std::optional<std::vector<double>> per_channel_values(const LinearLayer& layer, const Tensor& c);

// The rewrites below replace the layer's constant inputs through `uses`, which stays current.
// Multiplies output channel i by s[i], folding into the weight (which must be constant, unless
// every s[i] is equal and the layer has an alpha to carry it) and the bias. Returns false, with
// the graph unchanged, when that is not possible.
bool scale_output_channels(UseIndex& uses, LinearLayer& layer, const std::vector<double>& s);

// Adds the constant `c` to the layer's output through its bias (created if absent; a MatMul
// becomes a FusedMatMul). For the Conv family c must be per channel; for the MatMul family it may
// be any constant that broadcasts to the output without enlarging it. Returns false, with the
// graph unchanged, when that is not possible.
bool add_to_output(UseIndex& uses, LinearLayer& layer, const Tensor& c);
// The same with a per-channel shift t[i].
bool shift_output_channels(UseIndex& uses, LinearLayer& layer, const std::vector<double>& t);
// Whether shifting can succeed: the bias is constant or absent, and a MatMul can become a
// FusedMatMul.
bool can_shift(const LinearLayer& layer);

// Appends `from`'s origins (or its name) to `to`'s: every ONNX node a layer came from.
void merge_origins(ir::Node* to, const ir::Node* from);

}  // namespace kiln::passes
