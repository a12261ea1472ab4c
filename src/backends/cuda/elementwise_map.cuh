// Generic elementwise kernels: unary maps and broadcasting binary maps, with 16-byte vector loads
// where the operands are contiguous and aligned, and a strided-index path for general numpy
// broadcasting. Ops are functors computing in compute_t (float for fp16/bf16).
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

template <typename A, typename B, typename Out, typename Op>
__global__ void binary_strided_kernel(const A* __restrict__ a, const B* __restrict__ b,
                                      Out* __restrict__ y, int64_t n, Op op, StridedLayout<2> l) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t off[2];
    strided_offsets(l, i, off);
    y[i] = store<Out>(op(load(a[off[0]]), load(b[off[1]])));
  }
}

template <typename A, typename B, typename Out, typename Op>
void launch_binary_map(const BinaryPlan& plan, const A* a, const B* b, Out* y, int64_t n, Op op,
                       cudaStream_t stream) {
  if (n <= 0) return;
  if (plan.flat) {
    constexpr int V =
        16 / (sizeof(A) > sizeof(B) ? (sizeof(A) > sizeof(Out) ? sizeof(A) : sizeof(Out))
                                    : (sizeof(B) > sizeof(Out) ? sizeof(B) : sizeof(Out)));
    bool vec = (plan.a_scalar || aligned_to(a, sizeof(A) * V)) &&
               (plan.b_scalar || aligned_to(b, sizeof(B) * V)) && aligned_to(y, sizeof(Out) * V);
    binary_flat_kernel<<<grid_for(vec ? n / V + 1 : n), kBlockSize, 0, stream>>>(
        a, b, y, n, op, plan.a_scalar, plan.b_scalar, vec);
  } else {
    binary_strided_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(a, b, y, n, op, plan.layout);
  }
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace kiln::cuda
