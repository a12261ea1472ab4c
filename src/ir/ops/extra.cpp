// Inference for the extra op family (transformer, detection and data-dependent ops added after
// the first four families): registers each op group (see extra_families.hpp).
#include "ir/ops/extra_families.hpp"

#include "ir/ops/families.hpp"

namespace kiln::ir {

void require_float_input(const InferenceContext& ctx, size_t i) {
  DataType t = ctx.input(i).dtype;
  if (!is_floating(t) || t == DataType::kFloat8E4M3)
    ctx.fail("input ", i, " has dtype ", to_string(t), "; ", ctx.node().op,
             " takes float32, float64, float16 or bfloat16");
}

void register_extra_ops(OpRegistry& r) {
  register_attention_ops(r);
  register_norm_activation_ops(r);
  register_image_ops(r);
  register_selection_ops(r);
}

}  // namespace kiln::ir
