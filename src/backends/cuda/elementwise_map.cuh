// Generic elementwise kernels: unary maps and broadcasting binary maps, with 16-byte vector loads
// where the operands are contiguous and aligned, and a strided-index path for general numpy
// broadcasting. Ops are functors computing in compute_t (float for fp16/bf16).
//
// The memory plan may give an elementwise layer's output the bytes of a same-sized input of the
// same type (the op table's OpTraits::safe_in_place): every kernel here runs correctly in place.
// Each output element, or 16-byte pack, is written by the thread that read the input elements at
// the same index, after reading them, and no element is read again once written (so `__restrict__`
// and the read-only cache see no stale value); a broadcast operand, read by many threads, is
// smaller than the output and so never the one overwritten.
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename A, typename B>
constexpr int kPackOf = 16 / (sizeof(A) > sizeof(B) ? sizeof(A) : sizeof(B));

inline bool aligned_to(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

template <typename In, typename Out, typename Op>
__global__ void unary_map_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, Op op,
                                 bool vectorized) {
  constexpr int V = kPackOf<In, Out>;
  int64_t first = global_index(), stride = global_stride(), done = 0;
  if (vectorized) {
    int64_t packs = n / V;
    for (int64_t p = first; p < packs; p += stride) {
      Pack<In, V> a = reinterpret_cast<const Pack<In, V>*>(x)[p];
      Pack<Out, V> b;
#pragma unroll
      for (int j = 0; j < V; ++j) b.v[j] = store<Out>(op(load(a.v[j])));
      reinterpret_cast<Pack<Out, V>*>(y)[p] = b;
    }
    done = packs * V;
  }
  for (int64_t i = done + first; i < n; i += stride) y[i] = store<Out>(op(load(x[i])));
}

template <typename In, typename Out, typename Op>
void launch_unary_map(const In* x, Out* y, int64_t n, Op op, cudaStream_t stream) {
  if (n <= 0) return;
  constexpr int V = kPackOf<In, Out>;
  bool vec = aligned_to(x, sizeof(In) * V) && aligned_to(y, sizeof(Out) * V);
  unary_map_kernel<<<grid_for(vec ? n / V + 1 : n), kBlockSize, 0, stream>>>(x, y, n, op, vec);
  KILN_CUDA_CHECK(cudaGetLastError());
}

template <typename A, typename B, typename Out, typename Op>
__global__ void binary_flat_kernel(const A* __restrict__ a, const B* __restrict__ b,
                                   Out* __restrict__ y, int64_t n, Op op, bool a_scalar,
                                   bool b_scalar, bool vectorized) {
  constexpr int V =
      16 / (sizeof(A) > sizeof(B) ? (sizeof(A) > sizeof(Out) ? sizeof(A) : sizeof(Out))
                                  : (sizeof(B) > sizeof(Out) ? sizeof(B) : sizeof(Out)));
  int64_t first = global_index(), stride = global_stride(), done = 0;
  if (vectorized) {
    int64_t packs = n / V;
    for (int64_t p = first; p < packs; p += stride) {
      Pack<A, V> pa;
      Pack<B, V> pb;
      if (a_scalar) {
#pragma unroll
        for (int j = 0; j < V; ++j) pa.v[j] = a[0];
      } else {
        pa = reinterpret_cast<const Pack<A, V>*>(a)[p];
      }
      if (b_scalar) {
#pragma unroll
        for (int j = 0; j < V; ++j) pb.v[j] = b[0];
      } else {
        pb = reinterpret_cast<const Pack<B, V>*>(b)[p];
      }
      Pack<Out, V> r;
#pragma unroll
      for (int j = 0; j < V; ++j) r.v[j] = store<Out>(op(load(pa.v[j]), load(pb.v[j])));
      reinterpret_cast<Pack<Out, V>*>(y)[p] = r;
    }
    done = packs * V;
  }
  for (int64_t i = done + first; i < n; i += stride) {
    y[i] = store<Out>(op(load(a[a_scalar ? 0 : i]), load(b[b_scalar ? 0 : i])));
  }
}

template <typename A, typename B, typename Out, typename Op, typename I>
__global__ void binary_strided_kernel(const A* __restrict__ a, const B* __restrict__ b,
                                      Out* __restrict__ y, I n, Op op, StridedLayout<2> l) {
  const I first = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x;
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = first; i < n; i += stride) {
    I off[2];
    strided_offsets<2, I>(l, i, off);
    y[i] = store<Out>(op(load(a[off[0]]), load(b[off[1]])));
  }
}

// Broadcasting with the innermost (merged) dimension walked in packs of V elements: each operand
// either runs along it contiguously (stride 1: one 16-byte load) or repeats one value (stride 0),
// so the index arithmetic is done once per pack rather than per element. This is the
// squeeze-excitation product x[N, H, W, C] * s[N, 1, 1, C] of channels-last CNNs, and bias rows.
template <typename A, typename B, typename Out, typename Op, typename I>
__global__ void binary_broadcast_packs_kernel(const A* __restrict__ a, const B* __restrict__ b,
                                              Out* __restrict__ y, I packs, Op op,
                                              StridedLayout<2> l) {
  constexpr int V =
      16 / (sizeof(A) > sizeof(B) ? (sizeof(A) > sizeof(Out) ? sizeof(A) : sizeof(Out))
                                  : (sizeof(B) > sizeof(Out) ? sizeof(B) : sizeof(Out)));
  const bool a_repeats = l.strides[0][l.rank - 1] == 0;
  const bool b_repeats = l.strides[1][l.rank - 1] == 0;
  const I first = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x;
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I p = first; p < packs; p += stride) {
    I off[2];
    strided_offsets<2, I>(l, p * V, off);
    Pack<A, V> pa;
    Pack<B, V> pb;
    if (a_repeats) {
      const A v = a[off[0]];
#pragma unroll
      for (int j = 0; j < V; ++j) pa.v[j] = v;
    } else {
      pa = *reinterpret_cast<const Pack<A, V>*>(a + off[0]);
    }
    if (b_repeats) {
      const B v = b[off[1]];
#pragma unroll
      for (int j = 0; j < V; ++j) pb.v[j] = v;
    } else {
      pb = *reinterpret_cast<const Pack<B, V>*>(b + off[1]);
    }
    Pack<Out, V> r;
#pragma unroll
    for (int j = 0; j < V; ++j) r.v[j] = store<Out>(op(load(pa.v[j]), load(pb.v[j])));
    reinterpret_cast<Pack<Out, V>*>(y)[p] = r;
  }
}

// Whether binary_broadcast_packs_kernel can walk `l` in packs of V: the innermost dimension holds
// whole packs, each operand's innermost stride is 1 or 0, and an operand read in packs starts
// every pack on a 16-byte boundary (its pointer and all its other strides are multiples of V).
template <int V>
bool walks_in_packs(const StridedLayout<2>& l, const void* a, size_t a_bytes, const void* b,
                    size_t b_bytes) {
  const int r = l.rank;
  if (r == 0 || l.sizes[r - 1] % V != 0) return false;
  const void* ptrs[2] = {a, b};
  const size_t bytes[2] = {a_bytes, b_bytes};
  for (int k = 0; k < 2; ++k) {
    const int64_t inner = l.strides[k][r - 1];
    if (inner == 0) continue;
    if (inner != 1 || !aligned_to(ptrs[k], bytes[k] * V)) return false;
    for (int d = 0; d + 1 < r; ++d) {
      if (l.strides[k][d] % V != 0) return false;
    }
  }
  return true;
}

// Whether every offset into the operands of `l` (and the count n) fits in 32 bits.
inline bool fits_int32(const StridedLayout<2>& l, int64_t n) {
  int64_t reach[2] = {0, 0};
  for (int d = 0; d < l.rank; ++d) {
    for (int k = 0; k < 2; ++k) reach[k] += (l.sizes[d] - 1) * l.strides[k][d];
  }
  // Half the range: the grid-stride step past the last element must not overflow either.
  constexpr int64_t kLimit = INT32_MAX / 2;
  return n < kLimit && reach[0] < kLimit && reach[1] < kLimit;
}

template <typename A, typename B, typename Out, typename Op>
void launch_binary_map(const BinaryPlan& plan, const A* a, const B* b, Out* y, int64_t n, Op op,
                       cudaStream_t stream) {
  if (n <= 0) return;
  constexpr int V =
      16 / (sizeof(A) > sizeof(B) ? (sizeof(A) > sizeof(Out) ? sizeof(A) : sizeof(Out))
                                  : (sizeof(B) > sizeof(Out) ? sizeof(B) : sizeof(Out)));
  if (plan.flat) {
    bool vec = (plan.a_scalar || aligned_to(a, sizeof(A) * V)) &&
               (plan.b_scalar || aligned_to(b, sizeof(B) * V)) && aligned_to(y, sizeof(Out) * V);
    binary_flat_kernel<<<grid_for(vec ? n / V + 1 : n), kBlockSize, 0, stream>>>(
        a, b, y, n, op, plan.a_scalar, plan.b_scalar, vec);
  } else if (aligned_to(y, sizeof(Out) * V) &&
             walks_in_packs<V>(plan.layout, a, sizeof(A), b, sizeof(B))) {
    const int64_t packs = n / V;
    if (fits_int32(plan.layout, n)) {
      binary_broadcast_packs_kernel<A, B, Out, Op, int32_t>
          <<<grid_for(packs), kBlockSize, 0, stream>>>(a, b, y, static_cast<int32_t>(packs), op,
                                                       plan.layout);
    } else {
      binary_broadcast_packs_kernel<A, B, Out, Op, int64_t>
          <<<grid_for(packs), kBlockSize, 0, stream>>>(a, b, y, packs, op, plan.layout);
    }
  } else if (fits_int32(plan.layout, n)) {
    binary_strided_kernel<A, B, Out, Op, int32_t>
        <<<grid_for(n), kBlockSize, 0, stream>>>(a, b, y, static_cast<int32_t>(n), op, plan.layout);
  } else {
    binary_strided_kernel<A, B, Out, Op, int64_t>
        <<<grid_for(n), kBlockSize, 0, stream>>>(a, b, y, n, op, plan.layout);
  }
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace kiln::cuda
