// Registration functions of the nn family's CPU kernel groups; register_nn_kernels (nn.cpp)
// calls them all.
#pragma once

namespace kiln::cpu {

class CpuKernelRegistry;

void register_conv_kernels(CpuKernelRegistry& r);           // Conv, ConvTranspose, FusedConv
void register_pool_kernels(CpuKernelRegistry& r);           // MaxPool, AveragePool, LpPool, ...
void register_matmul_kernels(CpuKernelRegistry& r);         // MatMul, Gemm
void register_fused_matmul_kernels(CpuKernelRegistry& r);   // FusedMatMul
void register_einsum_kernels(CpuKernelRegistry& r);         // Einsum
void register_normalization_kernels(CpuKernelRegistry& r);  // BatchNorm, LayerNorm, ...
void register_softmax_kernels(CpuKernelRegistry& r);        // Softmax, LogSoftmax, Hardmax

}  // namespace kiln::cpu
