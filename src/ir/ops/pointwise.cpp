// Inference for Pointwise, the fused elementwise layer (see ir/pointwise_program.hpp): its inputs
// share one float type and broadcast together; every output has the broadcast shape.
#include "ir/op_registry.hpp"
#include "ir/ops/fused_families.hpp"
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

}  // namespace

void register_pointwise_ops(OpRegistry& r) {
  r.add({"Pointwise", 1, OpSchema::kVariadic, 1, OpSchema::kVariadic, infer_pointwise});
}

}  // namespace kiln::ir
