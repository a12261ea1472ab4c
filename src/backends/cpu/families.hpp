// The CPU kernels' registration functions, each adding the kernels of one op family
// (ir/op_family.hpp) from src/backends/cpu/<family>.cpp or a helper file named <family>_*.cpp.
// kernel.cpp lists them with their families and calls them all; nothing else does.
#pragma once

namespace kiln::cpu {

class CpuKernelRegistry;

void register_elementwise_kernels(CpuKernelRegistry& r);
void register_elementwise_activation_kernels(CpuKernelRegistry& r);
void register_elementwise_binary_kernels(CpuKernelRegistry& r);
void register_elementwise_variadic_kernels(CpuKernelRegistry& r);
void register_elementwise_cast_kernels(CpuKernelRegistry& r);
void register_elementwise_pointwise_kernels(CpuKernelRegistry& r);
void register_conv_kernels(CpuKernelRegistry& r);
void register_matmul_kernels(CpuKernelRegistry& r);
void register_matmul_fused_kernels(CpuKernelRegistry& r);
void register_matmul_einsum_kernels(CpuKernelRegistry& r);
void register_pool_kernels(CpuKernelRegistry& r);
void register_normalization_kernels(CpuKernelRegistry& r);
void register_softmax_kernels(CpuKernelRegistry& r);
void register_reduction_kernels(CpuKernelRegistry& r);
void register_reduction_index_kernels(CpuKernelRegistry& r);
void register_attention_kernels(CpuKernelRegistry& r);
void register_attention_scaled_dot_product_kernels(CpuKernelRegistry& r);
void register_shape_kernels(CpuKernelRegistry& r);
void register_shape_slice_pad_kernels(CpuKernelRegistry& r);
void register_shape_rearrange_kernels(CpuKernelRegistry& r);
void register_indexing_kernels(CpuKernelRegistry& r);
void register_indexing_selection_kernels(CpuKernelRegistry& r);
void register_image_kernels(CpuKernelRegistry& r);
void register_image_resize_kernels(CpuKernelRegistry& r);
void register_image_nms_kernels(CpuKernelRegistry& r);
void register_generators_kernels(CpuKernelRegistry& r);
void register_quantization_kernels(CpuKernelRegistry& r);
void register_control_flow_kernels(CpuKernelRegistry& r);
void register_control_flow_scan_kernels(CpuKernelRegistry& r);

}  // namespace kiln::cpu
