// Registration functions of the reduction family's files, called from reduction.cu.
#pragma once

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_softmax_kernels(CudaKernelRegistry& r);  // softmax.cu: Softmax, LogSoftmax
void register_norm_kernels(CudaKernelRegistry& r);    // norm.cu: Layer/RMS/Batch/Instance/GroupNorm
void register_reduce_kernels(CudaKernelRegistry& r);  // reduce.cu: Reduce*, ArgMax, ArgMin
void register_pool_kernels(CudaKernelRegistry& r);    // pool.cu: Max/Average/Global pools
void register_resize_kernels(CudaKernelRegistry& r);  // resize.cu: Resize, Upsample
void register_topk_kernels(CudaKernelRegistry& r);    // topk.cu: TopK, Hardmax

}  // namespace kiln::cuda
