// Selection along the rows of a tensor, one block per row, shared by TopK (reduction_topk.cu) and
// Hardmax (softmax_hardmax.cu): the order they rank candidates in (NaN above every number, then the
// lower index), a block-wide search for the first candidate, and the axis check.
#pragma once

#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_types.cuh"
#include "ir/nan_minmax.hpp"

namespace kiln::cuda {

inline constexpr int kMaxRowBlock = 512;  // row_block_size() never returns more

// Whether candidate (va, ia) comes before (vb, ib) in TopK's order; index -1 is no candidate.
template <typename A>
__device__ __forceinline__ bool comes_before(A va, int64_t ia, A vb, int64_t ib, bool largest) {
  if (ia < 0) return false;
  if (ib < 0) return true;
  // NaN ranks above every number.
  if (largest ? ir::greater_nan_first(va, vb) : ir::greater_nan_first(vb, va)) return true;
  if (largest ? ir::greater_nan_first(vb, va) : ir::greater_nan_first(va, vb)) return false;
  return ia < ib;
}

// Leaves in sv[0], si[0] the candidate that comes first by `first(va, ia, vb, ib)` over the block
// (blockDim.x a power of two). Every thread must call it.
template <typename A, typename F>
__device__ void block_select(A* sv, int64_t* si, A v, int64_t i, F first) {
  const int t = static_cast<int>(threadIdx.x);
  __syncthreads();  // the previous round's result has been read
  sv[t] = v;
  si[t] = i;
  __syncthreads();
  for (int s = static_cast<int>(blockDim.x) / 2; s > 0; s >>= 1) {
    if (t < s && first(sv[t + s], si[t + s], sv[t], si[t])) {
      sv[t] = sv[t + s];
      si[t] = si[t + s];
    }
    __syncthreads();
  }
}

inline int64_t norm_axis(const CudaKernelContext& ctx, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " is out of range for rank ", rank);
  }
  return a;
}

}  // namespace kiln::cuda
