// CPU kernels for the nn op family: registers each kernel group (see nn_kernels.hpp).
#include "backends/cpu/fused_kernels.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/nn_kernels.hpp"

namespace kiln::cpu {

void register_nn_kernels(CpuKernelRegistry& r) {
  register_conv_kernels(r);
  register_pool_kernels(r);
  register_matmul_kernels(r);
  register_fused_matmul_kernels(r);
  register_einsum_kernels(r);
  register_normalization_kernels(r);
  register_softmax_kernels(r);
  register_scaled_dot_product_attention_kernels(r);
}

}  // namespace kiln::cpu
