// Registration of the CUDA kernels of the layers the builder's fusion passes create, called from
// register_library_kernels().
#pragma once

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_fused_matmul_kernels(CudaKernelRegistry& r);  // FusedMatMul (fused_matmul.cpp)
void register_pointwise_kernels(CudaKernelRegistry& r);     // Pointwise (pointwise_kernel.cpp)
void register_attention_kernels(CudaKernelRegistry& r);     // ScaledDotProductAttention
// FusedConv is registered with Conv (conv_cudnn.cpp): one kernel serves both.

}  // namespace kiln::cuda
