// Fills device memory with one element's bit pattern, for any element width: the Dropout mask of
// shape_copy.cu and ConstantOfShape (generators.cu).
#pragma once

#include <cstring>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {

template <typename E>
__global__ void fill_kernel(E* __restrict__ y, int64_t n, E value) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = value;
}

// Fills n elements of `bytes` size with the bit pattern of `value` (its first `bytes` bytes).
inline void launch_fill(void* y, int64_t n, size_t bytes, uint64_t value, cudaStream_t stream) {
  if (n <= 0) return;
  visit_element_size(bytes, [&](auto tag) {
    using E = decltype(tag);
    E v;
    std::memcpy(&v, &value, sizeof(E));
    fill_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(static_cast<E*>(y), n, v);
    KILN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace kiln::cuda
