// CUDA kernels for the reduction family.
#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_reduction_kernels(CudaKernelRegistry& r) {}

}  // namespace kiln::cuda
