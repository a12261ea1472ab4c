// Library-backed CUDA kernels: convolution through cuDNN, matrix products through cuBLASLt.
#include "backends/cuda/library_kernels.hpp"

namespace kiln::cuda {

void register_library_kernels(CudaKernelRegistry& r) {
  register_matmul_kernels(r);
  register_conv_kernels(r);
}

}  // namespace kiln::cuda
