// Registration functions of the elementwise family's files, called from elementwise.cu.
#pragma once

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_unary_kernels(CudaKernelRegistry& r);     // unary.cu: math, activations, Clip
void register_binary_kernels(CudaKernelRegistry& r);    // binary.cu: arithmetic, compare, PRelu
void register_variadic_kernels(CudaKernelRegistry& r);  // variadic.cu: Sum, Mean, Max, Min, Where
void register_cast_kernels(CudaKernelRegistry& r);      // cast.cu: Cast, CastLike

}  // namespace kiln::cuda
