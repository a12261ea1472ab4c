// The epilogue checks of the fused layers: activation attributes and the residual input.
#include "ir/ops/fused_epilogue.hpp"

#include "ir/activation.hpp"

namespace kiln::ir {

void check_fused_epilogue(InferenceContext& ctx, size_t residual_input) {
  std::string name = ctx.attrs().get_string("activation", "");
  if (!parse_activation_kind(name)) ctx.fail("unknown activation '", name, "'");
  const std::optional<TensorType>& out = ctx.outputs().at(0);
  if (!ctx.has_input(residual_input) || !out) return;
  const TensorType& z = ctx.input(residual_input);
  if (z.dtype != out->dtype)
    ctx.fail("residual dtype ", to_string(z.dtype), " differs from the output's ",
             to_string(out->dtype));
  if (!z.shape || !out->shape) return;
  // The residual is added elementwise, so it must have the output's shape exactly.
  bool same = z.shape->size() == out->shape->size();
  for (size_t i = 0; same && i < z.shape->size(); ++i) {
    const Dim& a = (*z.shape)[i];
    const Dim& b = (*out->shape)[i];
    if (a.known() && b.known() && a.value != b.value) same = false;
  }
  if (!same)
    ctx.fail("residual shape ", sym_shape_to_string(z.shape), " differs from the output shape ",
             sym_shape_to_string(out->shape));
}

}  // namespace kiln::ir
