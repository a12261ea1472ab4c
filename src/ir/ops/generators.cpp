// Inference for the generators op family, which make new tensors from a shape or a pattern:
// ConstantOfShape, Range, EyeLike, Trilu.
#include <cmath>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void infer_constant_of_shape(InferenceContext& ctx) {
  DataType dtype = DataType::kFloat32;
  if (ctx.attrs().has("value")) {
    const Tensor& v = ctx.attrs().get_tensor("value");
    if (v.numel() != 1) ctx.fail("value must hold exactly one element, got ", v.numel());
    dtype = v.dtype();
  }
  auto shape = input_int_list(ctx, 0, "the shape");
  if (!shape) {
    int64_t n = known_length(ctx, 0);
    ctx.set_output(0, dtype,
                   n >= 0 ? std::optional(SymShape(static_cast<size_t>(n), Dim())) : std::nullopt);
    return;
  }
  SymShape out;
  for (int64_t d : *shape) {
    if (d < 0) ctx.fail("the shape has negative dimension ", d);
    out.emplace_back(d);
  }
  ctx.set_output(0, dtype, out);
}

// Element count of Range: max(ceil((limit - start) / delta), 0), exact for integer types.
int64_t range_count(const InferenceContext& ctx, DataType dtype) {
  if (!is_floating(dtype)) {
    auto s = ctx.input_ints(0), l = ctx.input_ints(1), d = ctx.input_ints(2);
    if (!s || !l || !d) return -1;
    if ((*d)[0] == 0) ctx.fail("delta cannot be 0");
    // In 128 bits: limit - start can overflow int64 for uint64 or extreme int64 inputs.
    __int128 span = static_cast<__int128>((*l)[0]) - (*s)[0];
    __int128 delta = (*d)[0];
    if ((span > 0) != (delta > 0) || span == 0) return 0;
    __int128 abs_span = span < 0 ? -span : span, abs_delta = delta < 0 ? -delta : delta;
    __int128 n = (abs_span + abs_delta - 1) / abs_delta;
    if (n > INT64_MAX) ctx.fail("Range would have more than 2^63 elements");
    return static_cast<int64_t>(n);
  }
  auto s = ctx.input_doubles(0), l = ctx.input_doubles(1), d = ctx.input_doubles(2);
  if (!s || !l || !d) return -1;
  double n = std::ceil(((*l)[0] - (*s)[0]) / (*d)[0]);
  if (std::isnan(n) || std::isinf(n)) ctx.fail("start, limit and delta give no finite count");
  if (n > 9.0e18) ctx.fail("Range would have ", n, " elements");
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

void infer_range(InferenceContext& ctx) {
  DataType dtype = ctx.input(0).dtype;
  for (size_t i = 0; i < 3; ++i) {
    const TensorType& t = ctx.input(i);
    if (t.dtype != dtype)
      ctx.fail("start, limit and delta must share one dtype; input ", i, " is ", to_string(t.dtype),
               ", not ", to_string(dtype));
    if (t.shape && known_product(*t.shape, 0, t.shape->size()) > 1)
      ctx.fail("input ", i, " must be a scalar, got shape ", sym_shape_to_string(t.shape));
    if (t.value && t.value->numel() != 1) ctx.fail("input ", i, " must hold one value");
  }
  if (dtype == DataType::kBool) ctx.fail("Range does not take bool");
  int64_t n = range_count(ctx, dtype);
  ctx.set_output(0, dtype, SymShape{n >= 0 ? Dim(n) : Dim()});
}

void infer_eye_like(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  DataType dtype = in.dtype;
  if (ctx.attrs().has("dtype")) {
    // Canonical form names the dtype (the importer translates ONNX's numeric code).
    const std::string& name = ctx.attrs().get_string("dtype");
    auto t = parse_data_type(name);
    if (!t) ctx.fail("unknown dtype '", name, "'");
    dtype = *t;
  }
  if (in.shape && in.rank() != 2) ctx.fail("the input must be 2-D, got rank ", in.rank());
  ctx.set_output(0, dtype, in.shape ? in.shape : SymShape(2, Dim()));
}

void infer_trilu(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (in.shape && in.rank() < 2) ctx.fail("the input must have rank >= 2, got ", in.rank());
  if (auto k = ctx.input_ints(1); k && k->size() != 1)
    ctx.fail("k must hold one value, got ", k->size());
  infer_same_as_first(ctx);
}

}  // namespace

void register_generators_ops(OpRegistry& r) {
  constexpr PrecisionTraits kTypeAttribute{.cls = PrecisionClass::kKeepsTypes,
                                           .reason = kTypeIsAnAttribute};
  r.add({"ConstantOfShape", 1, 1, 1, 1, infer_constant_of_shape},
        {.precision = kTypeAttribute, .flops = data_movement_flops()});
  r.add({"Range", 3, 3, 1, 1, infer_range},
        {.precision = {.cls = PrecisionClass::kKeepFp32, .reason = "shape arithmetic stays exact"},
         .flops = data_movement_flops()});
  r.add({"EyeLike", 1, 1, 1, 1, infer_eye_like},
        {.precision = kTypeAttribute,
         .flops = data_movement_flops(),
         .host_fallback = "no CUDA kernel yet: its output is usually folded into a constant"});
  r.add({"Trilu", 1, 2, 1, 1, infer_trilu}, {.flops = data_movement_flops()});
}

}  // namespace kiln::ir
