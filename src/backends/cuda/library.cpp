// Library-backed CUDA kernels: convolution through cuDNN, matrix products through cuBLASLt, and
// the fused layers built on them (plus the generated Pointwise and attention kernels).
#include "backends/cuda/fused_kernels.hpp"
#include "backends/cuda/library_kernels.hpp"

namespace kiln::cuda {

void register_library_kernels(CudaKernelRegistry& r) {
  register_matmul_kernels(r);
  register_conv_kernels(r);
  register_fused_matmul_kernels(r);
  register_pointwise_kernels(r);
  register_attention_kernels(r);
}

}  // namespace kiln::cuda
