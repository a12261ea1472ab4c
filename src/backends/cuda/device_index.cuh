// Index math on the device: the first linear index and stride of a grid-stride loop, and the
// N-operand strided offset calculator behind broadcasting and permuted copies.
#pragma once

#include <cstdint>

#include "backends/cuda/strided_layout.hpp"

namespace kiln::cuda {

__device__ __forceinline__ int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t global_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// Offsets of element `linear` (row-major over l.sizes) in each of the N operands. With I = int32_t
// (every offset and the element count below 2^31) the divisions are 32-bit ones, several times
// cheaper than 64-bit ones.
template <int N, typename I = int64_t>
__device__ __forceinline__ void strided_offsets(const StridedLayout<N>& l, I linear, I (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const I size = static_cast<I>(l.sizes[d]);
    const I i = linear % size;
    linear /= size;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += i * static_cast<I>(l.strides[k][d]);
  }
}

}  // namespace kiln::cuda
