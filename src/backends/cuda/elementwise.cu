// CUDA kernels for the elementwise family.
#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_elementwise_kernels(CudaKernelRegistry& r) {}

}  // namespace kiln::cuda
