// Inference for the quantization op family: QuantizeLinear and DequantizeLinear with per-tensor,
// per-axis and blocked scales, and DynamicQuantizeLinear.
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

// The kiln dtype for an ONNX TensorProto.DataType code held in an attribute (output_dtype).
std::optional<DataType> dtype_from_onnx_code(int64_t code) {
  switch (code) {
    case 1:
      return DataType::kFloat32;
    case 2:
      return DataType::kUInt8;
    case 3:
      return DataType::kInt8;
    case 4:
      return DataType::kUInt16;
    case 5:
      return DataType::kInt16;
    case 6:
      return DataType::kInt32;
    case 7:
      return DataType::kInt64;
    case 9:
      return DataType::kBool;
    case 10:
      return DataType::kFloat16;
    case 11:
      return DataType::kFloat64;
    case 12:
      return DataType::kUInt32;
    case 13:
      return DataType::kUInt64;
    case 16:
      return DataType::kBFloat16;
    case 17:
      return DataType::kFloat8E4M3;
    default:
      return std::nullopt;
  }
}

bool is_quantized_type(DataType t, bool allow_int32) {
  switch (t) {
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kInt16:
    case DataType::kUInt16:
    case DataType::kFloat8E4M3:
      return true;
    case DataType::kInt32:
      return allow_int32;
    default:
      return false;
  }
}

// Checks that the scale (input 1) and zero point (input 2) fit the input for per-tensor,
// per-axis or blocked quantization.
void check_scale_shapes(const InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  int64_t block = ctx.attrs().get_int("block_size", 0);
  if (block < 0) ctx.fail("block_size must not be negative, got ", block);
  // A scalar and a one-element 1-D tensor are both per-tensor parameters.
  auto single = [](const SymShape& s) { return known_product(s, 0, s.size()) == 1; };
  if (ctx.has_input(2) && ctx.input(2).shape && ctx.input(1).shape &&
      !(*ctx.input(2).shape == *ctx.input(1).shape) &&
      !(single(*ctx.input(2).shape) && single(*ctx.input(1).shape)))
    ctx.fail("zero point shape ", sym_shape_to_string(ctx.input(2).shape),
             " differs from scale shape ", sym_shape_to_string(ctx.input(1).shape));
  const auto& s = ctx.input(1).shape;
  if (!x.shape || !s) return;
  int64_t n = known_product(*s, 0, s->size());
  if (block == 0 && (s->empty() || n == 1)) return;  // per tensor
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", 1), x.rank());
  const Dim& d = (*x.shape)[static_cast<size_t>(axis)];
  if (block == 0) {
    if (s->size() != 1)
      ctx.fail("scale must be a scalar or 1-D for per-axis quantization, got ",
               sym_shape_to_string(s));
    if (d.known() && (*s)[0].known() && (*s)[0].value != d.value)
      ctx.fail("scale has ", (*s)[0].value, " values but axis ", axis, " has size ", d.value);
    return;
  }
  if (s->size() != x.shape->size())
    ctx.fail("blocked quantization needs a scale of rank ", x.rank(), ", got ",
             sym_shape_to_string(s));
  for (size_t i = 0; i < s->size(); ++i) {
    const Dim& xd = (*x.shape)[i];
    const Dim& sd = (*s)[i];
    if (!xd.known() || !sd.known()) continue;
    int64_t blocks = xd.value / block + (xd.value % block != 0 ? 1 : 0);  // cannot overflow
    int64_t want = static_cast<int64_t>(i) == axis ? blocks : xd.value;
    if (sd.value != want)
      ctx.fail("scale shape ", sym_shape_to_string(s), " does not fit input ",
               sym_shape_to_string(x.shape), " with block_size ", block, " on axis ", axis);
  }
}

void infer_quantize(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype != DataType::kFloat32 && x.dtype != DataType::kFloat16 &&
      x.dtype != DataType::kBFloat16 && x.dtype != DataType::kInt32)
    ctx.fail("input must be float32, float16, bfloat16 or int32, not ", to_string(x.dtype));
  int64_t code = ctx.attrs().get_int("output_dtype", 0);
  std::optional<DataType> out = DataType::kUInt8;
  if (code != 0) {
    out = dtype_from_onnx_code(code);
    if (!out || !is_quantized_type(*out, false))
      ctx.fail("output_dtype ", code, " is not a quantized type kiln supports");
  }
  if (ctx.has_input(2)) {
    DataType zt = ctx.input(2).dtype;
    if (code != 0 && zt != *out)
      ctx.fail("output_dtype ", to_string(*out), " differs from zero point type ", to_string(zt));
    out = zt;
  }
  if (!is_quantized_type(*out, false)) ctx.fail("cannot quantize to ", to_string(*out));
  check_scale_shapes(ctx);
  ctx.set_output(0, *out, x.shape);
}

void infer_dequantize(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (!is_quantized_type(x.dtype, true))
    ctx.fail("cannot dequantize a tensor of type ", to_string(x.dtype));
  if (ctx.has_input(2) && ctx.input(2).dtype != x.dtype)
    ctx.fail("zero point type ", to_string(ctx.input(2).dtype), " differs from input type ",
             to_string(x.dtype));
  DataType out = ctx.input(1).dtype;
  if (!is_floating(out) || out == DataType::kFloat8E4M3)
    ctx.fail("scale must be float32, float16 or bfloat16, not ", to_string(out));
  if (int64_t code = ctx.attrs().get_int("output_dtype", 0)) {
    auto t = dtype_from_onnx_code(code);
    if (!t || !is_floating(*t) || *t == DataType::kFloat8E4M3)
      ctx.fail("output_dtype ", code, " is not a float type kiln supports");
    out = *t;
  }
  check_scale_shapes(ctx);
  ctx.set_output(0, out, x.shape);
}

// Scale and zero point come from the data: y uint8 like x, scale and zero point scalars.
void infer_dynamic_quantize(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype != DataType::kFloat32) ctx.fail("input must be float32, not ", to_string(x.dtype));
  ctx.set_output(0, DataType::kUInt8, x.shape);
  ctx.set_output(1, DataType::kFloat32, SymShape{});
  ctx.set_output(2, DataType::kUInt8, SymShape{});
}

}  // namespace

void register_quantization_ops(OpRegistry& r) {
  constexpr PrecisionTraits kScales{.cls = PrecisionClass::kKeepsTypes,
                                    .reason = kQuantizationScales};
  constexpr const char* kNoKernel = "no CUDA kernel yet: INT8 execution is still to come";
  r.add({"QuantizeLinear", 2, 3, 1, 1, infer_quantize},
        {.precision = kScales, .flops = data_movement_flops(), .host_fallback = kNoKernel});
  r.add({"DequantizeLinear", 2, 3, 1, 1, infer_dequantize},
        {.precision = kScales, .flops = data_movement_flops(), .host_fallback = kNoKernel});
  r.add({"DynamicQuantizeLinear", 1, 1, 3, 3, infer_dynamic_quantize},
        {.precision = kScales, .host_fallback = kNoKernel});
}

}  // namespace kiln::ir
