// CUDA kernels for the data_movement family.
#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_data_movement_kernels(CudaKernelRegistry& r) {}

}  // namespace kiln::cuda
