// CUDA kernels for the reduction family (reductions, softmax, normalization, pooling); each group
// lives in its own file.
#include "backends/cuda/reduction_family.hpp"

namespace kiln::cuda {

void register_reduction_kernels(CudaKernelRegistry& r) {
  register_softmax_kernels(r);
  register_norm_kernels(r);
  register_reduce_kernels(r);
  register_pool_kernels(r);
  register_resize_kernels(r);
  register_topk_kernels(r);
}

}  // namespace kiln::cuda
