// Registration of the library-backed kernel families, called from register_library_kernels().
#pragma once

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_matmul_kernels(CudaKernelRegistry& r);  // MatMul, Gemm (cuBLASLt)
void register_conv_kernels(CudaKernelRegistry& r);    // Conv, FusedConv (cuDNN graph API)

}  // namespace kiln::cuda
