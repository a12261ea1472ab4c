// Index handling shared by the gather and scatter kernels: int32/int64 index dispatch, the prepare
// time check of constant indices (a clear error naming the node), and the device rule for runtime
// indices: negative ones count from the end, out-of-range ones are clamped into the axis, since a
// kernel cannot report an error without a host synchronisation.
#pragma once

#include <cstdint>

#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/kernel_factory.hpp"

namespace kiln::cuda {

template <typename I>
__device__ __forceinline__ int64_t resolve_index(I raw, int64_t n) {
  auto i = static_cast<int64_t>(raw);
  if (i < 0) i += n;
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

inline void check_index_dtype(const CudaKernelContext& ctx, size_t input) {
  DataType t = ctx.inputs[input].dtype;
  if (t != DataType::kInt32 && t != DataType::kInt64) fail_dtype(ctx, input, t);
}

template <typename F>
void visit_index(DataType t, F&& f) {
  if (t == DataType::kInt32) {
    f(int32_t{});
  } else {
    f(int64_t{});
  }
}

// Calls check(k, value) for every element of constant input `input` (no-op for runtime indices).
template <typename F>
void for_each_constant_index(const CudaKernelContext& ctx, size_t input, F&& check) {
  const Tensor* t = ctx.constant_input(input);
  if (!t) return;
  for (int64_t k = 0; k < t->numel(); ++k) {
    check(k,
          t->dtype() == DataType::kInt32 ? int64_t{t->data<int32_t>()[k]} : t->data<int64_t>()[k]);
  }
}

inline void check_index_range(const CudaKernelContext& ctx, int64_t v, int64_t n) {
  if (v < -n || v >= n) {
    ctx.fail(ErrorCode::kInvalidArgument, "index ", v, " is out of range for an axis of size ", n);
  }
}

}  // namespace kiln::cuda
