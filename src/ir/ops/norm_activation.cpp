// Inference for the same-shape ops of the extra family: RMSNormalization, LRN,
// MeanVarianceNormalization, Swish, SwiGLU and Shrink.
#include <algorithm>

#include "ir/ops/extra_families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

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

void infer_swish(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  infer_same_as_first(ctx);
}

void infer_swiglu(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  if (b.dtype != a.dtype)
    ctx.fail("B has dtype ", to_string(b.dtype), ", A has ", to_string(a.dtype));
  // No broadcasting: A and B have one shape.
  if (a.shape && b.shape) {
    bool ok = a.shape->size() == b.shape->size();
    for (size_t i = 0; ok && i < a.shape->size(); ++i) {
      const Dim &da = (*a.shape)[i], &db = (*b.shape)[i];
      ok = !da.known() || !db.known() || da.value == db.value;
    }
    if (!ok)
      ctx.fail("A ", sym_shape_to_string(a.shape), " and B ", sym_shape_to_string(b.shape),
               " must have the same shape");
  }
  ctx.set_output(0, a.dtype, a.shape ? a.shape : b.shape);
}

void infer_shrink(InferenceContext& ctx) {
  DataType t = ctx.input(0).dtype;
  if (t == DataType::kBool || t == DataType::kFloat8E4M3)
    ctx.fail("input has dtype ", to_string(t), ", which Shrink does not accept");
  infer_same_as_first(ctx);
}

}  // namespace

void register_norm_activation_ops(OpRegistry& r) {
  constexpr PrecisionTraits kStatistics{.cls = PrecisionClass::kKeepFp32,
                                        .reason = kNormStatisticsNeedFp32};
  r.add({"RMSNormalization", 2, 2, 1, 1, infer_rms_norm}, {.precision = kStatistics});
  r.add({"LRN", 1, 1, 1, 1, infer_lrn},
        {.precision = kStatistics,
         .host_fallback = "no CUDA kernel yet: LRN survives only in early CNNs (AlexNet, "
                          "GoogLeNet)"});
  r.add({"MeanVarianceNormalization", 1, 1, 1, 1, infer_mvn},
        {.precision = kStatistics,
         .flops = flops_per_larger_element(5),
         .host_fallback = "no CUDA kernel yet: rare in inference models"});
  // Swish and Shrink compute each element from the same element alone, in one pass.
  r.add({"Swish", 1, 1, 1, 1, infer_swish},
        {.elementwise = ElementwiseClass::kUnary,
         .safe_in_place = true,
         .layout_agnostic = true,
         .flops = flops_per_output_element(1),
         .host_fallback = "no CUDA kernel yet: exporters write SiLU as x * Sigmoid(x), which "
                          "the CUDA backend runs fused"});
  r.add({"SwiGLU", 2, 2, 1, 1, infer_swiglu},
        {.host_fallback = "no CUDA kernel yet: exporters write it as its parts"});
  r.add({"Shrink", 1, 1, 1, 1, infer_shrink},
        {.elementwise = ElementwiseClass::kUnary,
         .safe_in_place = true,
         .layout_agnostic = true,
         .flops = flops_per_output_element(1),
         .host_fallback = "no CUDA kernel yet: rare in inference models"});
}

}  // namespace kiln::ir
