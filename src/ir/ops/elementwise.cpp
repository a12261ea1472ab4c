// Inference for the elementwise op family: unary math, activations (Swish, SwiGLU and Shrink
// too), broadcasting binary and variadic ops, Where, Cast and CastLike. Each op names the element
// types ONNX allows for it, so a model feeding, say, int32 into Exp is refused at build time with
// the node named.
#include <limits>
#include <map>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

// A set of element types, one bit per DataType.
using TypeSet = uint32_t;

constexpr TypeSet bit(DataType t) {
  return TypeSet{1} << static_cast<unsigned>(t);
}

constexpr TypeSet kFloats = bit(DataType::kFloat32) | bit(DataType::kFloat64) |
                            bit(DataType::kFloat16) | bit(DataType::kBFloat16);
constexpr TypeSet kSignedInts =
    bit(DataType::kInt8) | bit(DataType::kInt16) | bit(DataType::kInt32) | bit(DataType::kInt64);
constexpr TypeSet kUnsignedInts = bit(DataType::kUInt8) | bit(DataType::kUInt16) |
                                  bit(DataType::kUInt32) | bit(DataType::kUInt64);
constexpr TypeSet kInts = kSignedInts | kUnsignedInts;
constexpr TypeSet kNumeric = kFloats | kInts;
constexpr TypeSet kSignedNumeric = kFloats | kSignedInts;
constexpr TypeSet kBool = bit(DataType::kBool);
constexpr TypeSet kFloatsAndFp8 = kFloats | bit(DataType::kFloat8E4M3);
constexpr TypeSet kAll = kNumeric | kBool | bit(DataType::kFloat8E4M3);

// The types each op accepts for its main operand(s), as ONNX's newest opset lists them.
const std::map<std::string, TypeSet>& op_types() {
  static const std::map<std::string, TypeSet> table = {
      // Unary math.
      {"Abs", kNumeric},
      {"Neg", kSignedNumeric},
      {"Sign", kNumeric},
      {"Exp", kFloats},
      {"Log", kFloats},
      {"Sqrt", kFloats},
      {"Reciprocal", kFloats},
      {"Floor", kFloats},
      {"Ceil", kFloats},
      {"Round", kFloats},
      {"Sin", kFloats},
      {"Cos", kFloats},
      {"Tan", kFloats},
      {"Asin", kFloats},
      {"Acos", kFloats},
      {"Atan", kFloats},
      {"Sinh", kFloats},
      {"Cosh", kFloats},
      {"Asinh", kFloats},
      {"Acosh", kFloats},
      {"Atanh", kFloats},
      {"Erf", kFloats},
      {"Not", kBool},
      {"BitwiseNot", kInts},
      {"IsNaN", kFloatsAndFp8},
      {"IsInf", kFloatsAndFp8},
      // Activations.
      {"Relu", kSignedNumeric},
      {"LeakyRelu", kFloats},
      {"Sigmoid", kFloats},
      {"Tanh", kFloats},
      {"HardSigmoid", kFloats},
      {"HardSwish", kFloats},
      {"Gelu", kFloats},
      {"Elu", kFloats},
      {"Selu", kFloats},
      {"Celu", kFloats},
      {"Softplus", kFloats},
      {"Softsign", kFloats},
      {"Mish", kFloats},
      {"ThresholdedRelu", kFloats},
      {"Clip", kNumeric},
      {"PRelu", kNumeric},
      // Binary.
      {"Add", kNumeric},
      {"Sub", kNumeric},
      {"Mul", kNumeric},
      {"Div", kNumeric},
      {"Mod", kNumeric},
      {"Pow", kNumeric},
      {"BitShift", kInts},
      {"BitwiseAnd", kInts},
      {"BitwiseOr", kInts},
      {"BitwiseXor", kInts},
      {"And", kBool},
      {"Or", kBool},
      {"Xor", kBool},
      {"Equal", kNumeric | kBool},
      {"Less", kNumeric},
      {"Greater", kNumeric},
      {"LessOrEqual", kNumeric},
      {"GreaterOrEqual", kNumeric},
      // Variadic.
      {"Sum", kFloats},
      {"Mean", kFloats},
      {"Max", kNumeric},
      {"Min", kNumeric},
      // Selection and conversion.
      {"Where", kAll},
      {"Cast", kAll},
      {"CastLike", kAll},
  };
  return table;
}

// Fails unless input `i` has a type the op accepts.
void check_type(const InferenceContext& ctx, size_t i) {
  const std::string& op = ctx.node().op;
  auto it = op_types().find(op);
  if (it == op_types().end()) ctx.fail("no type table entry for op ", op);
  DataType t = ctx.input(i).dtype;
  if ((it->second & bit(t)) == 0) {
    ctx.fail(op, " does not accept input ", i, " of type ", to_string(t));
  }
}

// Fails unless inputs `first`.. all share input `first`'s dtype.
void check_same_types(const InferenceContext& ctx, size_t first, size_t end) {
  DataType t = ctx.input(first).dtype;
  for (size_t i = first + 1; i < end; ++i) {
    if (!ctx.has_input(i)) continue;
    if (ctx.input(i).dtype != t) {
      ctx.fail("input ", i, " has type ", to_string(ctx.input(i).dtype), " but input ", first,
               " has type ", to_string(t), "; they must match");
    }
  }
}

void check_choice(const InferenceContext& ctx, const std::string& attr, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (value == a) return;
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
  ctx.fail("attribute '", attr, "' is '", value, "'; it must be one of ", list);
}

// Checks the attribute values an op's kernels depend on, so a bad value fails at build time.
void check_attributes(const InferenceContext& ctx) {
  const std::string& op = ctx.node().op;
  const Attributes& a = ctx.attrs();
  if (op == "Gelu") {
    check_choice(ctx, "approximate", a.get_string("approximate", "none"), {"none", "tanh"});
  } else if (op == "BitShift") {
    if (!a.has("direction")) ctx.fail("attribute 'direction' (LEFT or RIGHT) is required");
    check_choice(ctx, "direction", a.get_string("direction"), {"LEFT", "RIGHT"});
  } else if (op == "Mod") {
    int64_t fmod = a.get_int("fmod", 0);
    if (fmod != 0 && fmod != 1) ctx.fail("attribute 'fmod' is ", fmod, "; it must be 0 or 1");
  } else if (op == "Celu") {
    if (a.get_float("alpha", 1.0f) == 0.0f) ctx.fail("attribute 'alpha' must not be 0");
  }
}

// Unary ops whose output has the input's type and shape.
void infer_unary(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_attributes(ctx);
  infer_same_as_first(ctx);
}

// IsNaN, IsInf: a bool mask of the input's shape.
void infer_predicate(InferenceContext& ctx) {
  check_type(ctx, 0);
  ctx.set_output(0, DataType::kBool, ctx.input(0).shape);
}

// Binary and variadic ops with numpy broadcasting and one shared type.
void infer_broadcast(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_same_types(ctx, 0, ctx.num_inputs());
  check_attributes(ctx);
  ctx.set_output(0, ctx.input(0).dtype, broadcast_inputs(ctx));
}

// Comparisons: broadcast, bool output.
void infer_compare(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_same_types(ctx, 0, 2);
  ctx.set_output(0, DataType::kBool, broadcast_inputs(ctx));
}

// Pow: the base's type; the exponent may be any numeric type.
void infer_pow(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_type(ctx, 1);
  ctx.set_output(0, ctx.input(0).dtype, broadcast_inputs(ctx));
}

// PRelu: the slope broadcasts to X (unidirectionally), so the output has X's shape.
void infer_prelu(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_same_types(ctx, 0, 2);
  const TensorType& x = ctx.input(0);
  auto joined = broadcast_inputs(ctx);
  if (joined && x.shape) {
    bool ok = joined->size() == x.shape->size();
    for (size_t i = 0; ok && i < joined->size(); ++i) {
      const Dim& xd = (*x.shape)[i];
      ok = !xd.known() || !(*joined)[i].known() || xd.value == (*joined)[i].value;
    }
    if (!ok) {
      ctx.fail("slope of shape ", sym_shape_to_string(ctx.input(1).shape),
               " does not broadcast to X of shape ", sym_shape_to_string(x.shape));
    }
  }
  ctx.set_output(0, x.dtype, x.shape ? x.shape : joined);
}

// Clip: optional scalar bounds min (input 1) and max (input 2) of X's type.
void infer_clip(InferenceContext& ctx) {
  check_type(ctx, 0);
  check_same_types(ctx, 0, ctx.num_inputs());
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i) || !ctx.input(i).shape) continue;
    int64_t n = known_product(*ctx.input(i).shape, 0, ctx.input(i).shape->size());
    if (n > 1 || n == 0) {
      ctx.fail("bound input ", i, " must hold one value, but has shape ",
               sym_shape_to_string(ctx.input(i).shape));
    }
  }
  infer_same_as_first(ctx);
}

// Where(condition, X, Y): 3-way broadcast, X's type.
void infer_where(InferenceContext& ctx) {
  if (ctx.input(0).dtype != DataType::kBool) {
    ctx.fail("condition (input 0) must be bool, not ", to_string(ctx.input(0).dtype));
  }
  check_same_types(ctx, 1, 3);
  ctx.set_output(0, ctx.input(1).dtype, broadcast_inputs(ctx));
}

// Cast: attribute 'to' holds the kiln name of the target type ("float16"); the ONNX importer
// translates ONNX's numeric type codes, so the IR never depends on ONNX's enum.
void infer_cast(InferenceContext& ctx) {
  const Attributes& a = ctx.attrs();
  if (!a.has("to")) ctx.fail("attribute 'to' (the target type) is required");
  const auto& all = a.all();
  if (!std::holds_alternative<std::string>(all.at("to"))) {
    ctx.fail("attribute 'to' must name a kiln type such as \"float16\" (the ONNX importer ",
             "translates ONNX type codes)");
  }
  const std::string& name = a.get_string("to");
  std::optional<DataType> to = parse_data_type(name);
  if (!to) ctx.fail("attribute 'to' names unknown type '", name, "'");
  ctx.set_output(0, *to, ctx.input(0).shape);
}

// CastLike(input, target_type): input's shape, target_type's type.
void infer_cast_like(InferenceContext& ctx) {
  ctx.set_output(0, ctx.input(1).dtype, ctx.input(0).shape);
}

// What sets one elementwise op apart from the rest of its family.
struct OwnTraits {
  PrecisionTraits precision{};
  std::optional<PointwiseLowering> pointwise{};
  // Every kernel reads out[i]'s operands at i only, before writing out[i] (the CPU's map_unary /
  // map_binary loops), except where it makes several passes over the output (Sum, Where) or
  // copies with memcpy (Cast's same-type case).
  bool safe_in_place = true;
  FlopFormula flops = flops_per_output_element(1);
};

// Every elementwise op runs channels-last unchanged: it reads each operand at the output's
// position, so permuting every operand alike permutes the output alike.
void add(OpRegistry& r, const char* name, int min_in, int max_in, InferFn fn, ElementwiseClass cls,
         const OwnTraits& own) {
  r.add({name, min_in, max_in, 1, 1, fn}, {.elementwise = cls,
                                           .safe_in_place = own.safe_in_place,
                                           .layout_agnostic = true,
                                           .precision = own.precision,
                                           .flops = own.flops,
                                           .pointwise = own.pointwise});
}

void unary(OpRegistry& r, const char* name, const OwnTraits& own = {}) {
  add(r, name, 1, 1, infer_unary, ElementwiseClass::kUnary, own);
}

void binary(OpRegistry& r, const char* name, const OwnTraits& own = {}) {
  add(r, name, 2, 2, infer_broadcast, ElementwiseClass::kBroadcast, own);
}

void comparison(OpRegistry& r, const char* name) {
  add(r, name, 2, 2, infer_compare, ElementwiseClass::kBroadcast, {});
}

void variadic(OpRegistry& r, const char* name, const OwnTraits& own) {
  add(r, name, 1, OpSchema::kVariadic, infer_broadcast, ElementwiseClass::kVariadic, own);
}

PointwiseLowering lowering(PointwiseOpcode op, std::array<AttributeOperand, 2> attributes = {}) {
  return {.opcode = op, .attribute_operands = attributes};
}

PrecisionTraits keep_fp32(const char* reason) {
  return {.cls = PrecisionClass::kKeepFp32, .reason = reason};
}

constexpr float kFloatMax = std::numeric_limits<float>::max();

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

void register_elementwise_ops(OpRegistry& r) {
  using enum PointwiseOpcode;
  // Unary math.
  unary(r, "Abs", {.pointwise = lowering(kAbs)});
  unary(r, "Neg", {.pointwise = lowering(kNeg)});
  unary(r, "Sign");
  unary(r, "Exp", {.precision = keep_fp32(kExponentialsOverflow), .pointwise = lowering(kExp)});
  unary(r, "Log",
        {.precision = keep_fp32("logarithms of 16-bit values lose accuracy near 1 and 0"),
         .pointwise = lowering(kLog)});
  unary(r, "Sqrt", {.pointwise = lowering(kSqrt)});
  unary(r, "Reciprocal", {.pointwise = lowering(kReciprocal)});
  unary(r, "Floor", {.pointwise = lowering(kFloor)});
  unary(r, "Ceil", {.pointwise = lowering(kCeil)});
  unary(r, "Round", {.pointwise = lowering(kRound)});
  unary(r, "Sin", {.pointwise = lowering(kSin)});
  unary(r, "Cos", {.pointwise = lowering(kCos)});
  for (const char* op : {"Tan", "Asin", "Acos", "Atan", "Asinh", "Acosh", "Atanh"}) unary(r, op);
  unary(r, "Sinh", {.precision = keep_fp32(kExponentialsOverflow)});
  unary(r, "Cosh", {.precision = keep_fp32(kExponentialsOverflow)});
  unary(r, "Erf", {.pointwise = lowering(kErf)});
  unary(r, "Not");
  unary(r, "BitwiseNot");
  add(r, "IsNaN", 1, 1, infer_predicate, ElementwiseClass::kUnary, {});
  add(r, "IsInf", 1, 1, infer_predicate, ElementwiseClass::kUnary, {});
  // Activations.
  unary(r, "Relu", {.pointwise = lowering(kRelu)});
  unary(r, "LeakyRelu", {.pointwise = lowering(kLeakyRelu, {{{"alpha", kLeakyReluAlpha}}})});
  unary(r, "Sigmoid", {.pointwise = lowering(kSigmoid)});
  unary(r, "Tanh", {.pointwise = lowering(kTanh)});
  unary(r, "HardSigmoid",
        {.pointwise =
             lowering(kHardSigmoid, {{{"alpha", kHardSigmoidAlpha}, {"beta", kHardSigmoidBeta}}})});
  unary(r, "HardSwish", {.pointwise = lowering(kHardSwish)});
  unary(r, "Gelu",
        {.pointwise = PointwiseLowering{.opcode = kGelu,
                                        .variant_attribute = "approximate",
                                        .variant_value = "tanh",
                                        .variant_opcode = kGeluTanh}});
  unary(r, "Elu", {.pointwise = lowering(kElu, {{{"alpha", kEluAlpha}}})});
  unary(r, "Selu",
        {.pointwise = lowering(kSelu, {{{"alpha", kSeluAlpha}, {"gamma", kSeluGamma}}})});
  unary(r, "Celu", {.pointwise = lowering(kCelu, {{{"alpha", kCeluAlpha}}})});
  unary(r, "Softplus", {.pointwise = lowering(kSoftplus)});
  unary(r, "Softsign", {.pointwise = lowering(kSoftsign)});
  unary(r, "Mish", {.pointwise = lowering(kMish)});
  unary(r, "ThresholdedRelu",
        {.pointwise = lowering(kThresholdedRelu, {{{"alpha", kThresholdedReluAlpha}}})});
  // Clip's bounds are scalars: out[i] reads x[i] only.
  add(r, "Clip", 1, 3, infer_clip, ElementwiseClass::kUnary,
      {.pointwise = PointwiseLowering{.opcode = kClip, .omitted_inputs = {-kFloatMax, kFloatMax}}});
  // Binary, broadcasting.
  binary(r, "Add", {.pointwise = lowering(kAdd)});
  binary(r, "Sub", {.pointwise = lowering(kSub)});
  binary(r, "Mul", {.pointwise = lowering(kMul)});
  binary(r, "Div", {.pointwise = lowering(kDiv)});
  add(r, "Pow", 2, 2, infer_pow, ElementwiseClass::kBroadcast,
      {.precision = keep_fp32("powers of large values overflow 16 bits"),
       .pointwise = lowering(kPow)});
  add(r, "PRelu", 2, 2, infer_prelu, ElementwiseClass::kBroadcast, {.pointwise = lowering(kPRelu)});
  for (const char* op : {"Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor"}) binary(r, op);
  // And/Or/Xor take and give bool, so the shared-type broadcast rule covers them.
  for (const char* op : {"And", "Or", "Xor"}) binary(r, op);
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    comparison(r, op);
  }
  // Variadic: the CPU kernels accumulate into the output over several passes.
  variadic(
      r, "Sum",
      {.pointwise = PointwiseLowering{.opcode = kAdd, .max_inputs = 2}, .safe_in_place = false});
  variadic(r, "Mean", {.safe_in_place = false});
  variadic(r, "Max", {.pointwise = lowering(kMax), .safe_in_place = false});
  variadic(r, "Min", {.pointwise = lowering(kMin), .safe_in_place = false});
  add(r, "Where", 3, 3, infer_where, ElementwiseClass::kBroadcast, {.safe_in_place = false});
  // Conversions count no arithmetic. Cast reads any type; a same-type Cast copies with memcpy,
  // which must not overlap. CastLike converts input 0 itself.
  add(r, "Cast", 1, 1, infer_cast, ElementwiseClass::kUnary,
      {.precision = {.any_type_inputs = 1u << 0},
       .safe_in_place = false,
       .flops = data_movement_flops()});
  add(r, "CastLike", 2, 2, infer_cast_like, ElementwiseClass::kUnary,
      {.precision = {.any_type_inputs = 1u << 0},
       .safe_in_place = false,
       .flops = data_movement_flops()});
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
