// Inference for Conv, ConvTranspose and FusedConv: output channels from the weight, spatial sizes
// from the window geometry; the batch dim keeps its symbol. With channels_last=1 (Conv and
// FusedConv) x and y are [N, spatial..., C] and the weight [K, spatial..., C/group]; the geometry
// is computed in ONNX's order and the output put back in the node's. Also their FLOP formulas.
#include <optional>

#include "ir/flop_shapes.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/ops/families.hpp"
#include "ir/ops/fused_epilogue.hpp"
#include "ir/ops/window.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

// x and w in ONNX's order (N, C, spatial...) and (K, C/group, spatial...), whatever the layout.
struct ConvOperands {
  std::optional<SymShape> x, w;
  int64_t group = 1;
  size_t spatial = 0;
  bool channels_last = false;
};

// Checks dtypes, ranks and the bias; returns nullopt-like (x == nullptr) when ranks are unknown.
ConvOperands check_conv_operands(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& w = ctx.input(1);
  if (w.dtype != x.dtype)
    ctx.fail("weight dtype ", to_string(w.dtype), " differs from input dtype ", to_string(x.dtype));
  if (!is_floating(x.dtype))
    ctx.fail("input dtype ", to_string(x.dtype), " is not a floating-point type");
  ConvOperands r;
  r.channels_last = read_channels_last(ctx.node(), [&](int64_t v) {
    ctx.fail("attribute 'channels_last' must be 0 or 1, got ", v);
  });
  r.group = ctx.attrs().get_int("group", 1);
  if (r.group <= 0) ctx.fail("attribute 'group' must be positive, got ", r.group);
  if (ctx.has_input(2)) {
    const TensorType& b = ctx.input(2);
    if (b.dtype != x.dtype)
      ctx.fail("bias dtype ", to_string(b.dtype), " differs from input dtype ", to_string(x.dtype));
    if (b.shape && b.shape->size() != 1)
      ctx.fail("bias must be 1-D, got shape ", sym_shape_to_string(b.shape));
  }
  if (!x.shape || !w.shape) return r;
  if (x.shape->size() < 3)
    ctx.fail("input must have rank 3 or more (",
             r.channels_last ? "N, spatial..., C" : "N, C, spatial...", "), got shape ",
             sym_shape_to_string(x.shape));
  if (w.shape->size() != x.shape->size())
    ctx.fail("weight shape ", sym_shape_to_string(w.shape), " must have the rank of input shape ",
             sym_shape_to_string(x.shape));
  r.x = r.channels_last ? to_channels_first(*x.shape) : *x.shape;
  r.w = r.channels_last ? to_channels_first(*w.shape) : *w.shape;
  r.spatial = x.shape->size() - 2;
  return r;
}

WindowFail window_fail(const InferenceContext& ctx) {
  return [&ctx](const std::string& m) { ctx.fail(m); };
}

std::vector<int64_t> weight_kernel(const SymShape& w) {
  std::vector<int64_t> k;
  for (size_t i = 2; i < w.size(); ++i) k.push_back(w[i].value);
  return k;
}

void check_bias_length(InferenceContext& ctx, const Dim& channels) {
  if (!ctx.has_input(2) || !ctx.input(2).shape || !channels.known()) return;
  const Dim& b = (*ctx.input(2).shape)[0];
  if (b.known() && b.value != channels.value)
    ctx.fail("bias has ", b.value, " values; the output has ", channels.value, " channels");
}

void infer_conv(InferenceContext& ctx) {
  ConvOperands ops = check_conv_operands(ctx);
  DataType dtype = ctx.input(0).dtype;
  if (!ops.x) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  const SymShape& x = *ops.x;
  const SymShape& w = *ops.w;
  if (x[1].known() && w[1].known() && x[1].value != checked_mul(ctx, w[1].value, ops.group)) {
    ctx.fail("input has ", x[1].value, " channels but the weight expects ", w[1].value, " x group ",
             ops.group, " = ", w[1].value * ops.group);
  }
  if (w[0].known() && w[0].value % ops.group != 0)
    ctx.fail("weight has ", w[0].value, " output channels, not divisible by group ", ops.group);
  WindowSpec spec = read_window_spec(ctx.node(), ops.spatial, weight_kernel(w), window_fail(ctx));
  for (size_t i = 0; i < ops.spatial; ++i) {
    if (spec.kernel[i] >= 0 && w[i + 2].known() && w[i + 2].value != spec.kernel[i])
      ctx.fail("kernel_shape ", spec.kernel[i], " on spatial axis ", i,
               " differs from the weight's ", w[i + 2].value);
  }
  SymShape out{x[0], w[0]};
  for (size_t i = 0; i < ops.spatial; ++i) {
    AxisWindow a = forward_window(ctx.node(), spec, i, x[i + 2].value, window_fail(ctx));
    out.push_back(a.out >= 0 ? Dim(a.out) : Dim());
  }
  check_bias_length(ctx, w[0]);
  ctx.set_output(0, dtype, ops.channels_last ? to_channels_last(out) : out);
}

void infer_conv_transpose(InferenceContext& ctx) {
  ConvOperands ops = check_conv_operands(ctx);
  DataType dtype = ctx.input(0).dtype;
  if (ops.channels_last) ctx.fail("a transposed convolution takes no channels_last layout");
  if (!ops.x) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  const SymShape& x = *ops.x;
  const SymShape& w = *ops.w;
  if (x[1].known() && w[0].known() && x[1].value != w[0].value) {
    ctx.fail("input has ", x[1].value, " channels but the weight expects ", w[0].value);
  }
  if (w[0].known() && w[0].value % ops.group != 0)
    ctx.fail("weight has ", w[0].value, " input channels, not divisible by group ", ops.group);
  WindowSpec spec = read_window_spec(ctx.node(), ops.spatial, weight_kernel(w), window_fail(ctx));
  Dim channels = w[1].known() ? Dim(checked_mul(ctx, w[1].value, ops.group)) : Dim();
  SymShape out{x[0], channels};
  for (size_t i = 0; i < ops.spatial; ++i) {
    AxisWindow a = transpose_window(ctx.node(), spec, i, x[i + 2].value, window_fail(ctx));
    out.push_back(a.out >= 0 ? Dim(a.out) : Dim());
  }
  check_bias_length(ctx, channels);
  ctx.set_output(0, dtype, out);
}

// FusedConv(X, W, B?, Z?): a Conv (or, with transposed=1, a ConvTranspose) with its epilogue
// y = act(conv + B + Z), or act(conv + B) + Z with residual_before_activation=0.
void infer_fused_conv(InferenceContext& ctx) {
  if (ctx.attrs().get_int("transposed", 0) != 0)
    infer_conv_transpose(ctx);
  else
    infer_conv(ctx);
  check_fused_epilogue(ctx, 3);
}

// Conv: every output element is a dot product over (C/group) * kernel elements of the weight.
std::optional<double> conv_flops(const Node& n, const FlopShapes& sh) {
  auto out = sh.numel(n.output(0));
  auto w = sh.shape(n.input(1));
  if (!out || !w || w->size() < 2) return std::nullopt;
  double macs = *out * dims_product(*w, 1, w->size());
  return 2 * macs + (n.input(2) ? *out : 0);
}

// ConvTranspose: every input element is scattered through (M/group) * kernel weights.
std::optional<double> conv_transpose_flops(const Node& n, const FlopShapes& sh) {
  auto in = sh.numel(n.input(0));
  auto w = sh.shape(n.input(1));
  auto out = sh.numel(n.output(0));
  if (!in || !w || w->size() < 2) return std::nullopt;
  double macs = *in * dims_product(*w, 1, w->size());
  return 2 * macs + (n.input(2) && out ? *out : 0);
}

// FusedConv: the convolution plus one op per output element for each of residual and activation.
std::optional<double> fused_conv_flops(const Node& n, const FlopShapes& sh) {
  auto linear = n.attrs.get_int("transposed", 0) ? conv_transpose_flops(n, sh) : conv_flops(n, sh);
  auto out = sh.numel(n.output(0));
  if (!linear || !out) return std::nullopt;
  double extra = (n.input(3) ? 1 : 0) + (n.attrs.get_string("activation", "").empty() ? 0 : 1);
  return *linear + extra * *out;
}

constexpr PrecisionTraits kMatrixWork{.cls = PrecisionClass::kMatrix};

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add({"Conv", 2, 3, 1, 1, infer_conv},
        {.precision = kMatrixWork, .flops = flops_from(conv_flops)});
  r.add({"ConvTranspose", 2, 3, 1, 1, infer_conv_transpose},
        {.precision = kMatrixWork,
         .flops = flops_from(conv_transpose_flops),
         .host_fallback = "no CUDA kernel yet (cuDNN's backward-data convolution would give "
                          "one)"});
  r.add({"FusedConv", 2, 4, 1, 1, infer_fused_conv},
        {.precision = kMatrixWork, .flops = flops_from(fused_conv_flops)});
}

}  // namespace kiln::ir
