// CUDA kernels for the elementwise family; each group lives in its own file.
#include "backends/cuda/elementwise_family.hpp"

namespace kiln::cuda {

void register_elementwise_kernels(CudaKernelRegistry& r) {
  register_unary_kernels(r);
  register_binary_kernels(r);
  register_variadic_kernels(r);
  register_cast_kernels(r);
}

}  // namespace kiln::cuda
