// Inference for the normalization op family: BatchNormalization, LayerNormalization,
// InstanceNormalization, GroupNormalization, LpNormalization, RMSNormalization, LRN and
// MeanVarianceNormalization. Outputs keep the input's shape.
#include <algorithm>
#include <optional>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void require_float(InferenceContext& ctx, size_t i) {
  DataType t = ctx.input(i).dtype;
  if (!is_floating(t) || t == DataType::kFloat8E4M3)
    ctx.fail("input ", i, " has dtype ", to_string(t), "; ", ctx.node().op,
             " takes float32, float64, float16 or bfloat16");
}

// Input i must be 1-D with `channels` values (when both are known).
void require_per_channel(InferenceContext& ctx, size_t i, const Dim& channels, const char* what) {
  if (!ctx.has_input(i) || !ctx.input(i).shape) return;
  const SymShape& s = *ctx.input(i).shape;
  if (s.size() != 1) ctx.fail(what, " must be 1-D, got shape ", sym_shape_to_string(s));
  if (s[0].known() && channels.known() && s[0].value != channels.value)
    ctx.fail(what, " has ", s[0].value, " values; the input has ", channels.value, " channels");
}

Dim channels_of(const TensorType& x) {
  return x.shape && x.shape->size() >= 2 ? (*x.shape)[1] : Dim();
}

void infer_batch_norm(InferenceContext& ctx) {
  require_float(ctx, 0);
  const TensorType& x = ctx.input(0);
  if (x.shape && x.shape->size() < 2)
    ctx.fail("input must have rank 2 or more (N, C, ...), got ", sym_shape_to_string(x.shape));
  Dim c = channels_of(x);
  const char* names[] = {"", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    require_float(ctx, i);
    require_per_channel(ctx, i, c, names[i]);
  }
  bool training = ctx.attrs().get_int("training_mode", 0) != 0;
  if (!training && ctx.num_outputs() > 1)
    ctx.fail("outputs running_mean and running_var exist only with training_mode=1");
  ctx.set_output(0, x.dtype, x.shape);
  ctx.set_output(1, ctx.input(3).dtype, SymShape{c});
  ctx.set_output(2, ctx.input(4).dtype, SymShape{c});
}

DataType stash_dtype(InferenceContext& ctx) {
  int64_t stash = ctx.attrs().get_int("stash_type", 1);
  switch (stash) {
    case 1:
      return DataType::kFloat32;
    case 10:
      return DataType::kFloat16;
    case 11:
      return DataType::kFloat64;
    case 16:
      return DataType::kBFloat16;
    default:
      ctx.fail("attribute 'stash_type' ", stash, " is not a floating-point ONNX type");
  }
}

void infer_layer_norm(InferenceContext& ctx) {
  require_float(ctx, 0);
  const TensorType& x = ctx.input(0);
  DataType stash = stash_dtype(ctx);
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    ctx.set_output(1, stash, std::nullopt);
    ctx.set_output(2, stash, std::nullopt);
    return;
  }
  auto rank = static_cast<int64_t>(x.shape->size());
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", -1), rank);
  SymShape normalized(x.shape->begin() + axis, x.shape->end());
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    if (ctx.input(i).dtype != x.dtype)
      ctx.fail("input ", i, " has dtype ", to_string(ctx.input(i).dtype), ", X has ",
               to_string(x.dtype));
    // Scale and B broadcast one way, to the normalized dims.
    if (!ctx.input(i).shape) continue;
    const SymShape& s = *ctx.input(i).shape;
    bool ok = s.size() <= normalized.size();
    for (size_t k = 0; ok && k < s.size(); ++k) {
      const Dim& n = normalized[normalized.size() - s.size() + k];
      ok = !s[k].known() || s[k].value == 1 || !n.known() || s[k].value == n.value;
    }
    if (!ok)
      ctx.fail("input ", i, " of shape ", sym_shape_to_string(s),
               " does not broadcast to the normalized shape ", sym_shape_to_string(normalized));
  }
  SymShape stats(x.shape->begin(), x.shape->begin() + axis);
  stats.resize(x.shape->size(), Dim(1));
  ctx.set_output(0, x.dtype, x.shape);
  ctx.set_output(1, stash, stats);
  ctx.set_output(2, stash, stats);
}

void infer_instance_norm(InferenceContext& ctx) {
  require_float(ctx, 0);
  const TensorType& x = ctx.input(0);
  if (x.shape && x.shape->size() < 3)
    ctx.fail("input must have rank 3 or more (N, C, spatial...), got ",
             sym_shape_to_string(x.shape));
  require_per_channel(ctx, 1, channels_of(x), "scale");
  require_per_channel(ctx, 2, channels_of(x), "B");
  ctx.set_output(0, x.dtype, x.shape);
}

void infer_group_norm(InferenceContext& ctx) {
  require_float(ctx, 0);
  const TensorType& x = ctx.input(0);
  int64_t groups = ctx.attrs().get_int("num_groups");
  if (groups <= 0) ctx.fail("attribute 'num_groups' must be positive, got ", groups);
  if (x.shape && x.shape->size() < 2)
    ctx.fail("input must have rank 2 or more (N, C, ...), got ", sym_shape_to_string(x.shape));
  Dim c = channels_of(x);
  if (c.known() && c.value % groups != 0)
    ctx.fail("the input's ", c.value, " channels are not divisible by num_groups ", groups);
  // Opset 18 models scale per group; the importer marks them (see onnx/ops/normalization.cpp).
  bool per_group = ctx.attrs().get_int("scale_per_group", 0) != 0;
  Dim expected = per_group ? Dim(groups) : c;
  require_per_channel(ctx, 1, expected, "scale");
  require_per_channel(ctx, 2, expected, "bias");
  ctx.set_output(0, x.dtype, x.shape);
}

void infer_lp_norm(InferenceContext& ctx) {
  require_float(ctx, 0);
  int64_t p = ctx.attrs().get_int("p", 2);
  if (p != 1 && p != 2) ctx.fail("attribute 'p' must be 1 or 2, got ", p);
  const TensorType& x = ctx.input(0);
  if (x.shape) normalize_axis(ctx, ctx.attrs().get_int("axis", -1), x.rank());
  ctx.set_output(0, x.dtype, x.shape);
}

void infer_rms_norm(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  require_float_input(ctx, 1);
  const TensorType& x = ctx.input(0);
  const TensorType& scale = ctx.input(1);
  int64_t stash = ctx.attrs().get_int("stash_type", 1);
  if (stash != 1 && stash != 10 && stash != 11 && stash != 16)
    ctx.fail("attribute 'stash_type' ", stash, " is not a floating-point ONNX type");
  if (x.shape) {
    int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", -1), x.rank());
    SymShape normalized(x.shape->begin() + axis, x.shape->end());
    if (scale.shape) {
      // Scale broadcasts one way, to the normalized dims.
      const SymShape& s = *scale.shape;
      bool ok = s.size() <= normalized.size();
      for (size_t k = 0; ok && k < s.size(); ++k) {
        const Dim& n = normalized[normalized.size() - s.size() + k];
        ok = !s[k].known() || s[k].value == 1 || !n.known() || s[k].value == n.value;
      }
      if (!ok)
        ctx.fail("scale of shape ", sym_shape_to_string(s),
                 " does not broadcast to the normalized shape ", sym_shape_to_string(normalized));
    }
  }
  ctx.set_output(0, scale.dtype, x.shape);
}

void infer_lrn(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& x = ctx.input(0);
  if (!ctx.attrs().has("size")) ctx.fail("attribute 'size' is required");
  if (ctx.attrs().get_int("size") <= 0)
    ctx.fail("attribute 'size' must be positive, got ", ctx.attrs().get_int("size"));
  if (x.shape && x.shape->size() < 3)
    ctx.fail("input must have rank 3 or more (N, C, spatial...), got ",
             sym_shape_to_string(x.shape));
  ctx.set_output(0, x.dtype, x.shape);
}

void infer_mvn(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& x = ctx.input(0);
  if (x.shape) {
    std::vector<int64_t> axes;
    for (int64_t a : ctx.attrs().get_ints("axes", {0, 2, 3}))
      axes.push_back(normalize_axis(ctx, a, x.rank()));
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      ctx.fail("axes must not repeat an axis");
  }
  ctx.set_output(0, x.dtype, x.shape);
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  constexpr PrecisionTraits kStatistics{.cls = PrecisionClass::kKeepFp32,
                                        .reason = kNormStatisticsNeedFp32};
  // 2 FLOPs an element: scale and shift, after folding the statistics.
  r.add({"BatchNormalization", 5, 5, 1, 3, infer_batch_norm},
        {.flops = flops_per_larger_element(2)});
  // Every backend computes LayerNormalization's statistics in FP32 (or wider) inside the kernel
  // and only reads and writes 16-bit values, so it follows its neighbours with no Cast layers.
  r.add({"LayerNormalization", 2, 3, 1, 3, infer_layer_norm},
        {.flops = flops_per_larger_element(5)});
  r.add({"InstanceNormalization", 3, 3, 1, 1, infer_instance_norm},
        {.precision = kStatistics, .flops = flops_per_larger_element(5)});
  r.add({"GroupNormalization", 3, 3, 1, 1, infer_group_norm},
        {.precision = kStatistics, .flops = flops_per_larger_element(5)});
  r.add({"LpNormalization", 1, 1, 1, 1, infer_lp_norm},
        {.precision = kStatistics,
         .flops = flops_per_larger_element(3),
         .host_fallback = "no CUDA kernel yet: Lp normalisation is rare in inference models"});
  r.add({"RMSNormalization", 2, 2, 1, 1, infer_rms_norm}, {.precision = kStatistics});
  r.add({"LRN", 1, 1, 1, 1, infer_lrn},
        {.precision = kStatistics,
         .host_fallback = "no CUDA kernel yet: LRN survives only in early CNNs (AlexNet, "
                          "GoogLeNet)"});
  r.add({"MeanVarianceNormalization", 1, 1, 1, 1, infer_mvn},
        {.precision = kStatistics,
         .flops = flops_per_larger_element(5),
         .host_fallback = "no CUDA kernel yet: rare in inference models"});
}

}  // namespace kiln::ir
