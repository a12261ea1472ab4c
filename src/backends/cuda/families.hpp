// The CUDA kernels' registration functions, each adding the kernels of one op family
// (ir/op_family.hpp) from src/backends/cuda/<family>.cu or .cpp, or a helper file named
// <family>_*. cuda_kernel.cpp lists them with their families and calls them all; nothing else does.
// Families whose ops all run on the host (quantization, control_flow) have none.
#pragma once

namespace kiln::cuda {

class CudaKernelRegistry;

void register_elementwise_kernels(CudaKernelRegistry& r);
void register_elementwise_binary_arith_kernels(CudaKernelRegistry& r);
void register_elementwise_binary_logic_kernels(CudaKernelRegistry& r);
void register_elementwise_binary_pow_kernels(CudaKernelRegistry& r);
void register_elementwise_variadic_kernels(CudaKernelRegistry& r);
void register_elementwise_cast_kernels(CudaKernelRegistry& r);
void register_elementwise_pointwise_kernels(CudaKernelRegistry& r);
void register_conv_kernels(CudaKernelRegistry& r);
void register_matmul_kernels(CudaKernelRegistry& r);
void register_matmul_fused_kernels(CudaKernelRegistry& r);
void register_pool_kernels(CudaKernelRegistry& r);
void register_normalization_kernels(CudaKernelRegistry& r);
void register_softmax_kernels(CudaKernelRegistry& r);
void register_softmax_hardmax_kernels(CudaKernelRegistry& r);
void register_reduction_kernels(CudaKernelRegistry& r);
void register_reduction_topk_kernels(CudaKernelRegistry& r);
void register_reduction_cumsum_kernels(CudaKernelRegistry& r);
void register_attention_kernels(CudaKernelRegistry& r);
void register_shape_kernels(CudaKernelRegistry& r);
void register_shape_copy_kernels(CudaKernelRegistry& r);
void register_shape_pad_tile_kernels(CudaKernelRegistry& r);
void register_shape_rearrange_kernels(CudaKernelRegistry& r);
void register_indexing_kernels(CudaKernelRegistry& r);
void register_indexing_scatter_kernels(CudaKernelRegistry& r);
void register_image_kernels(CudaKernelRegistry& r);
void register_generators_kernels(CudaKernelRegistry& r);

}  // namespace kiln::cuda
