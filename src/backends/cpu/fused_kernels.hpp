// Registration of the CPU kernels of the layers graph passes create: Pointwise (registered with
// the elementwise family) and ScaledDotProductAttention (with the nn family).
#pragma once

namespace kiln::cpu {

class CpuKernelRegistry;

void register_pointwise_kernels(CpuKernelRegistry& r);                     // pointwise.cpp
void register_scaled_dot_product_attention_kernels(CpuKernelRegistry& r);  // sdpa kernel file

}  // namespace kiln::cpu
