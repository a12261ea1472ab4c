// Copies of many equally long contiguous rows (a permutation that keeps the innermost axis, a
// Concat or Split along an outer axis, a Gather of whole slices) with vector loads and stores: a
// group of threads copies one row, or one chunk of a long row, so the per-row index math is paid
// once per row rather than once per element.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/int_divider.cuh"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {

// The widest access (16, 8, 4, 2 or 1 bytes) that divides every byte count and address given.
inline int vector_bytes(std::initializer_list<uint64_t> values) {
  for (int v : {16, 8, 4, 2}) {
    if (std::all_of(values.begin(), values.end(), [&](uint64_t x) { return x % v == 0; })) return v;
  }
  return 1;
}

// Calls f(V{}) with an unsigned type of `bytes` bytes (uint4 for 16) that is aligned to its size.
template <typename F>
void visit_vector(int bytes, F&& f) {
  switch (bytes) {
    case 16:
      return f(uint4{});
    case 8:
      return f(uint2{});
    case 4:
      return f(uint32_t{});
    case 2:
      return f(uint16_t{});
    default:
      return f(uint8_t{});
  }
}

// How `rows` rows of `vectors` vectors each split among groups of threads: each work item is one
// chunk of a row, copied by one group of 2^group_log2 threads.
struct RowGrid {
  int64_t rows = 0, vectors = 0, chunk = 0;
  int64_t items = 0;
  IntDivider chunks;  // chunks per row
  int group_log2 = 0;
};

constexpr int64_t kMaxRowChunk = 2048;  // vectors per work item: 32 KiB at 16 bytes

// False when the work items do not fit the 31 bits the fast division takes.
inline bool plan_rows(int64_t rows, int64_t vectors, RowGrid& g) {
  if (rows <= 0 || vectors <= 0) return false;
  g.rows = rows;
  g.vectors = vectors;
  g.chunk = std::min(vectors, kMaxRowChunk);
  const int64_t chunks = (vectors + g.chunk - 1) / g.chunk;
  if (rows > (int64_t{1} << 31) / chunks) return false;
  g.items = rows * chunks;
  if (g.items >= (int64_t{1} << 31)) return false;
  g.chunks = IntDivider(chunks);
  g.group_log2 = 0;
  while ((int64_t{1} << g.group_log2) < g.chunk && (1 << g.group_log2) < kBlockSize) ++g.group_log2;
  return true;
}

inline unsigned row_grid_blocks(const RowGrid& g) {
  const int64_t groups = kBlockSize >> g.group_log2;
  return grid_for((g.items + groups - 1) / groups, 1);
}

#ifdef __CUDACC__
// `row_at(row, src_offset, dst_offset)` gives a row's first vector in src and dst.
template <typename V, typename RowAt>
__global__ void row_copy_kernel(const V* __restrict__ src, V* __restrict__ dst, RowGrid g,
                                RowAt row_at) {
  const int group_size = 1 << g.group_log2;
  const int64_t groups = blockDim.x >> g.group_log2;
  const int64_t lane = threadIdx.x & (group_size - 1);
  for (int64_t item = blockIdx.x * groups + (threadIdx.x >> g.group_log2); item < g.items;
       item += static_cast<int64_t>(gridDim.x) * groups) {
    const uint32_t row = g.chunks.div(static_cast<uint32_t>(item));
    const int64_t chunk = item - static_cast<int64_t>(row) * g.chunks.divisor;
    int64_t so = 0, dof = 0;
    row_at(row, so, dof);
    const int64_t begin = chunk * g.chunk;
    const int64_t end = begin + g.chunk < g.vectors ? begin + g.chunk : g.vectors;
    for (int64_t c = begin + lane; c < end; c += group_size) dst[dof + c] = src[so + c];
  }
}

template <typename V, typename RowAt>
void launch_row_copy(const void* src, void* dst, const RowGrid& g, const RowAt& row_at,
                     cudaStream_t stream) {
  row_copy_kernel<V><<<row_grid_blocks(g), kBlockSize, 0, stream>>>(
      static_cast<const V*>(src), static_cast<V*>(dst), g, row_at);
  KILN_CUDA_CHECK(cudaGetLastError());
}
#endif

}  // namespace kiln::cuda
