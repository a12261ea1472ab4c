// The broadcasting binary ops of the CUDA backend, registered family by family: arithmetic
// (binary_arith.cu), bit/logical/comparison (binary_logic.cu) and Pow (binary_pow.cu).
#include "backends/cuda/binary_kernel.cuh"

namespace kiln::cuda {

void register_binary_kernels(CudaKernelRegistry& r) {
  register_arith_binary_kernels(r);
  register_logic_binary_kernels(r);
  register_pow_kernel(r);
}

}  // namespace kiln::cuda
