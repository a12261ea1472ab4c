// Inference for the nn op family: registers each op group (see nn_families.hpp).
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/ops/fused_families.hpp"
#include "ir/ops/nn_families.hpp"

namespace kiln::ir {

void register_nn_ops(OpRegistry& r) {
  register_conv_ops(r);
  register_pool_ops(r);
  register_matmul_ops(r);
  register_normalization_ops(r);
  register_softmax_ops(r);
  register_scaled_dot_product_attention_ops(r);
}

}  // namespace kiln::ir
