// Inference for Pointwise, the fused elementwise layer (see ir/pointwise_program.hpp): its inputs
// share one float type and broadcast together; every output has the broadcast shape. Its FLOPs
// and precision follow from its program.
#include <cmath>

#include "ir/flop_shapes.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/pointwise_program.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

bool is_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16 ||
         t == DataType::kBFloat16;
}

void infer_pointwise(InferenceContext& ctx) {
  const DataType dtype = ctx.input(0).dtype;
  if (!is_float(dtype)) ctx.fail("input 0 has dtype ", to_string(dtype), "; Pointwise is float");
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) ctx.fail("input ", i, " is missing");
    if (ctx.input(i).dtype != dtype)
      ctx.fail("input ", i, " has dtype ", to_string(ctx.input(i).dtype), ", input 0 has ",
               to_string(dtype));
  }
  // Validates the program; the kernels rely on it being well formed.
  PointwiseProgram::load(ctx.attrs(), static_cast<int64_t>(ctx.num_inputs()),
                         static_cast<int64_t>(ctx.num_outputs()), ctx.node().describe());
  std::optional<SymShape> shape = broadcast_inputs(ctx);
  for (size_t k = 0; k < ctx.num_outputs(); ++k) ctx.set_output(k, dtype, shape);
}

// One FLOP per instruction (constants aside) per output element, as the layers it fused count.
std::optional<double> pointwise_flops(const Node& n, const FlopShapes& sh) {
  auto out = sh.numel(n.output(0));
  if (!out) return std::nullopt;
  const std::vector<int64_t> code = n.attrs.get_ints("code", {});
  double instructions = 0;
  for (size_t i = 0; i < code.size(); i += 4) {
    instructions += code[i] == static_cast<int64_t>(PointwiseOpcode::kConst) ? 0 : 1;
  }
  return instructions * *out;
}

// A fused program rounds every instruction to the layer's type, so an instruction whose op keeps
// FP32 (an exponential) overflows inside it as it would as a layer of its own; and a constant
// beyond the FP16 range does not fit at all.
std::string pointwise_fp32_reason(const Node& n) {
  constexpr float kHalfMax = 65504.0f;
  for (float c : n.attrs.get_floats("constants", {})) {
    if (std::isfinite(c) && std::fabs(c) > kHalfMax) {
      return cat("its constant ", c, " is beyond the FP16 range");
    }
  }
  const std::vector<int64_t> code = n.attrs.get_ints("code", {});
  for (size_t i = 0; i < code.size(); i += 4) {
    if (code[i] < 0 || code[i] >= kPointwiseOpcodeLimit) continue;  // load() refuses it
    auto op = static_cast<PointwiseOpcode>(code[i]);
    const OpSchema* fused = op_lowering_to(op);
    if (fused && fused->traits.precision.cls == PrecisionClass::kKeepFp32) {
      return cat("its program has ", pointwise_opcode_name(op), ": ",
                 fused->traits.precision.reason);
    }
  }
  return "";
}

}  // namespace

void register_elementwise_pointwise_ops(OpRegistry& r) {
  // Not in place: several outputs, written a block at a time.
  const OpTraits traits{.elementwise = ElementwiseClass::kVariadic,
                        .layout_agnostic = true,
                        .precision = {.fp32_reason = pointwise_fp32_reason},
                        .flops = flops_from(pointwise_flops)};
  r.add({"Pointwise", 1, OpSchema::kVariadic, 1, OpSchema::kVariadic, infer_pointwise}, traits);
}

}  // namespace kiln::ir
