// Inference for the pooling ops: MaxPool (with its optional Indices), AveragePool, LpPool and the
// global pools. Spatial sizes come from the window geometry; N and C keep their symbols. With
// channels_last=1 (MaxPool, AveragePool, the global average and max pools) x and y are
// [N, spatial..., C]. Also the windowed pools' FLOP formula.
#include <optional>

#include "ir/flop_shapes.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/ops/families.hpp"
#include "ir/ops/window.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

bool channels_last(InferenceContext& ctx, bool allowed) {
  bool last = read_channels_last(ctx.node(), [&](int64_t v) {
    ctx.fail("attribute 'channels_last' must be 0 or 1, got ", v);
  });
  if (last && !allowed) ctx.fail(ctx.node().op, " takes no channels_last layout");
  return last;
}

// The input's shape in ONNX's order (N, C, spatial...), checked; nullopt when the rank is unknown.
std::optional<SymShape> pool_input(InferenceContext& ctx, bool allow_integers, bool last) {
  const TensorType& x = ctx.input(0);
  if (!is_floating(x.dtype) &&
      !(allow_integers && (x.dtype == DataType::kInt8 || x.dtype == DataType::kUInt8))) {
    ctx.fail("input dtype ", to_string(x.dtype), " is not supported by ", ctx.node().op);
  }
  if (!x.shape) return std::nullopt;
  if (x.shape->size() < 3)
    ctx.fail("input must have rank 3 or more (", last ? "N, spatial..., C" : "N, C, spatial...",
             "), got shape ", sym_shape_to_string(x.shape));
  return last ? to_channels_first(*x.shape) : *x.shape;
}

void infer_window_pool(InferenceContext& ctx, bool allow_integers, bool last) {
  std::optional<SymShape> x = pool_input(ctx, allow_integers, last);
  DataType dtype = ctx.input(0).dtype;
  if (!x) {
    ctx.set_output(0, dtype, std::nullopt);
    ctx.set_output(1, DataType::kInt64, std::nullopt);
    return;
  }
  size_t spatial = x->size() - 2;
  if (!ctx.attrs().has("kernel_shape")) ctx.fail("attribute 'kernel_shape' is required");
  WindowFail fail = [&ctx](const std::string& m) { ctx.fail(m); };
  WindowSpec spec = read_window_spec(ctx.node(), spatial, {}, fail);
  SymShape out{(*x)[0], (*x)[1]};
  for (size_t i = 0; i < spatial; ++i) {
    AxisWindow a = forward_window(ctx.node(), spec, i, (*x)[i + 2].value, fail);
    out.push_back(a.out >= 0 ? Dim(a.out) : Dim());
  }
  if (last) {
    // Indices count positions in the (N, C, spatial...) order; no kernel writes them otherwise.
    if (ctx.num_outputs() > 1 && ctx.node().output(1))
      ctx.fail("a channels_last MaxPool has no Indices output");
    out = to_channels_last(out);
  }
  ctx.set_output(0, dtype, out);
  ctx.set_output(1, DataType::kInt64, out);
}

void infer_max_pool(InferenceContext& ctx) {
  int64_t order = ctx.attrs().get_int("storage_order", 0);
  if (order != 0 && order != 1) ctx.fail("attribute 'storage_order' must be 0 or 1, got ", order);
  infer_window_pool(ctx, true, channels_last(ctx, true));
}

void infer_average_pool(InferenceContext& ctx) {
  infer_window_pool(ctx, false, channels_last(ctx, true));
}

void infer_lp_pool(InferenceContext& ctx) {
  if (ctx.attrs().get_int("p", 2) <= 0)
    ctx.fail("attribute 'p' must be positive, got ", ctx.attrs().get_int("p", 2));
  infer_window_pool(ctx, false, channels_last(ctx, false));
}

void infer_global_pool(InferenceContext& ctx) {
  bool last = channels_last(ctx, ctx.node().op != "GlobalLpPool");
  std::optional<SymShape> x = pool_input(ctx, false, last);
  DataType dtype = ctx.input(0).dtype;
  if (!x) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  SymShape out{(*x)[0], (*x)[1]};
  out.resize(x->size(), Dim(1));
  ctx.set_output(0, dtype, last ? to_channels_last(out) : out);
}

// A pool with a window: one op per window element per output element.
std::optional<double> window_pool_flops(const Node& n, const FlopShapes& sh) {
  auto out = sh.numel(n.output(0));
  if (!out || !n.attrs.has("kernel_shape")) return std::nullopt;
  return *out * dims_product(n.attrs.get_ints("kernel_shape"), 0, 64);
}

constexpr const char* kSumsOfPowers = "sums of powers overflow 16 bits";
constexpr const char* kNoLpPoolKernel =
    "no CUDA kernel yet: Lp pooling is rare in inference models";

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add({"MaxPool", 1, 1, 1, 2, infer_max_pool}, {.flops = flops_from(window_pool_flops)});
  r.add({"AveragePool", 1, 1, 1, 1, infer_average_pool}, {.flops = flops_from(window_pool_flops)});
  r.add({"LpPool", 1, 1, 1, 1, infer_lp_pool},
        {.precision = {.cls = PrecisionClass::kKeepFp32, .reason = kSumsOfPowers},
         .flops = flops_from(window_pool_flops),
         .host_fallback = kNoLpPoolKernel});
  r.add({"GlobalAveragePool", 1, 1, 1, 1, infer_global_pool},
        {.flops = flops_per_larger_element(1)});
  r.add({"GlobalMaxPool", 1, 1, 1, 1, infer_global_pool}, {.flops = flops_per_larger_element(1)});
  r.add({"GlobalLpPool", 1, 1, 1, 1, infer_global_pool},
        {.precision = {.cls = PrecisionClass::kKeepFp32, .reason = kSumsOfPowers},
         .host_fallback = kNoLpPoolKernel});
}

}  // namespace kiln::ir
