// CPU kernels for the elementwise op family, registered from the files that hold them.
#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/fused_kernels.hpp"

namespace kiln::cpu {

void register_elementwise_kernels(CpuKernelRegistry& r) {
  register_unary_kernels(r);
  register_activation_kernels(r);
  register_binary_kernels(r);
  register_variadic_kernels(r);
  register_cast_kernels(r);
  register_pointwise_kernels(r);
}

}  // namespace kiln::cpu
