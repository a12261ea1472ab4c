// Warp and block reductions (sum, max) over float, used by softmax, the normalizations and the
// Reduce ops.
#pragma once

#include <cuda_runtime.h>

namespace kiln::cuda {

struct SumOp {
  template <typename A>
  __device__ __forceinline__ A operator()(A a, A b) const {
    return a + b;
  }
};
// NaN wins, as numpy's maximum.
struct MaxOp {
  template <typename A>
  __device__ __forceinline__ A operator()(A a, A b) const {
    return (a != a || a > b) ? a : b;
  }
};
struct MinOp {
  template <typename A>
  __device__ __forceinline__ A operator()(A a, A b) const {
    return (a != a || a < b) ? a : b;
  }
};

template <typename A, typename Op>
__device__ __forceinline__ A warp_reduce(A v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Reduces over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `scratch` holds 32 values; the block synchronises, so every thread must call this.
template <typename A, typename Op>
__device__ __forceinline__ A block_reduce(A v, Op op, A* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < warps; ++w) v = op(v, scratch[w]);
  return v;
}

}  // namespace kiln::cuda
