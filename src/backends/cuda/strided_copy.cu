// The strided copy's kernels and the choice among them (see strided_copy.cuh).
#include "backends/cuda/strided_copy.cuh"

#include <cstdlib>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/int_divider.cuh"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/row_copy.cuh"

namespace kiln::cuda {
namespace {

constexpr int64_t kFastLimit = int64_t{1} << 31;

// A StridedLayout<2> whose coordinates are split with IntDivider (iteration counts below 2^31).
struct FastLayout {
  int rank = 0;
  IntDivider sizes[kMaxDims];
  int64_t strides[2][kMaxDims] = {};
};

// Dims [first, last) of `l`, strides divided by `unit` (exact: callers checked divisibility).
FastLayout fast_layout(const StridedLayout<2>& l, int first, int last, int64_t unit = 1) {
  FastLayout f;
  for (int d = first; d < last; ++d) {
    f.sizes[f.rank] = IntDivider(l.sizes[d]);
    for (int k = 0; k < 2; ++k) f.strides[k][f.rank] = l.strides[k][d] / unit;
    ++f.rank;
  }
  return f;
}

__device__ __forceinline__ void fast_offsets(const FastLayout& l, uint32_t linear, int64_t& src,
                                             int64_t& dst) {
  src = 0;
  dst = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const uint32_t q = l.sizes[d].div(linear);
    const int64_t i = linear - q * l.sizes[d].divisor;
    linear = q;
    src += i * l.strides[0][d];
    dst += i * l.strides[1][d];
  }
}

// Row offsets (in vectors) of a copy whose innermost axis is contiguous on both sides.
struct LayoutRows {
  FastLayout outer;
  int64_t src_base = 0, dst_base = 0;
  __device__ __forceinline__ void operator()(uint32_t row, int64_t& so, int64_t& dof) const {
    fast_offsets(outer, row, so, dof);
    so += src_base;
    dof += dst_base;
  }
};

// A batch of 2-D transposes: the source is contiguous along axis `a`, the destination along the
// layout's last axis `l`; the other axes form the batch.
struct TiledTranspose {
  FastLayout batch;
  int64_t extent_a = 0, extent_l = 0;
  int64_t src_stride_l = 0, dst_stride_a = 0;
  int64_t src_base = 0, dst_base = 0;
  IntDivider tiles_l, tiles_a;
  int64_t tiles = 0;
};

constexpr int kTile = 32;
constexpr int kTileRows = 8;

template <typename E>
__global__ void tiled_transpose_kernel(const E* __restrict__ src, E* __restrict__ dst,
                                       TiledTranspose p) {
  __shared__ E tile[kTile][kTile + 1];  // +1: the column reads hit distinct banks
  for (int64_t t = blockIdx.x; t < p.tiles; t += gridDim.x) {
    const uint32_t rest = p.tiles_l.div(static_cast<uint32_t>(t));
    const int64_t l0 = (t - static_cast<int64_t>(rest) * p.tiles_l.divisor) * kTile;
    const uint32_t b = p.tiles_a.div(rest);
    const int64_t a0 = (rest - static_cast<int64_t>(b) * p.tiles_a.divisor) * kTile;
    int64_t so = 0, dof = 0;
    fast_offsets(p.batch, b, so, dof);
    so += p.src_base;
    dof += p.dst_base;
    // Read along a (contiguous in the source), write along l (contiguous in the destination).
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const int64_t a = a0 + threadIdx.x, l = l0 + j;
      if (a < p.extent_a && l < p.extent_l) tile[j][threadIdx.x] = src[so + a + l * p.src_stride_l];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const int64_t l = l0 + threadIdx.x, a = a0 + j;
      if (a < p.extent_a && l < p.extent_l)
        dst[dof + a * p.dst_stride_a + l] = tile[threadIdx.x][j];
    }
    __syncthreads();  // the tile is reused by the next iteration
  }
}

// The same batch of transposes when the destination's rows are short (an image's 3 channels going
// last): a 32x32 tile would be mostly empty, so each thread moves one whole destination row
// instead, reading its values `src_stride_l` apart (a warp's reads are contiguous for each l)
// and writing them next to each other (a warp's writes are one contiguous run).
template <typename E>
__global__ void short_row_transpose_kernel(const E* __restrict__ src, E* __restrict__ dst,
                                           TiledTranspose p, IntDivider extent_a, int64_t rows) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += step) {
    const uint32_t b = extent_a.div(static_cast<uint32_t>(r));
    const int64_t a = r - static_cast<int64_t>(b) * extent_a.divisor;
    int64_t so = 0, dof = 0;
    fast_offsets(p.batch, b, so, dof);
    const E* from = src + p.src_base + so + a;
    E* to = dst + p.dst_base + dof + a * p.dst_stride_a;
    for (int64_t l = 0; l < p.extent_l; ++l) to[l] = from[l * p.src_stride_l];
  }
}

constexpr int64_t kShortRow = 8;

template <typename E>
__global__ void strided_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, StridedCopy c) {
  for (int64_t i = global_index(); i < c.count; i += global_stride()) {
    int64_t off[2];
    strided_offsets(c.layout, i, off);
    dst[c.dst_base + off[1]] = src[c.src_base + off[0]];
  }
}

// The axis the source walks contiguously, when the destination's innermost axis is not it.
int transposed_axis(const StridedLayout<2>& l) {
  const int last = l.rank - 1;
  if (l.rank < 2 || l.strides[1][last] != 1 || l.strides[0][last] == 1) return -1;
  for (int d = 0; d < last; ++d) {
    if (l.strides[0][d] == 1) return d;
  }
  return -1;
}

void launch_rows(const void* src, void* dst, size_t e, const StridedCopy& c, cudaStream_t stream,
                 bool& launched) {
  const StridedLayout<2>& l = c.layout;
  const int last = l.rank - 1;
  const int64_t run = l.sizes[last];
  const auto eb = static_cast<uint64_t>(e);
  auto bytes = [&](int64_t elements) { return static_cast<uint64_t>(std::llabs(elements)) * eb; };
  int v = vector_bytes({bytes(run), bytes(c.src_base), bytes(c.dst_base),
                        reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(dst)});
  for (int d = 0; d < last; ++d) {
    v = std::min(v, vector_bytes({bytes(l.strides[0][d]), bytes(l.strides[1][d])}));
  }
  if (v < static_cast<int>(e)) v = static_cast<int>(e);  // every offset is a whole element
  const int64_t unit = v / static_cast<int64_t>(e);
  RowGrid g;
  if (!plan_rows(c.count / run, run / unit, g)) return;
  LayoutRows rows{fast_layout(l, 0, last, unit), c.src_base / unit, c.dst_base / unit};
  visit_vector(v, [&](auto tag) {
    using V = decltype(tag);
    launch_row_copy<V>(src, dst, g, rows, stream);
  });
  launched = true;
}

void launch_tiled(const void* src, void* dst, size_t e, const StridedCopy& c, cudaStream_t stream,
                  bool& launched) {
  const StridedLayout<2>& l = c.layout;
  const int last = l.rank - 1;
  const int a = transposed_axis(l);
  TiledTranspose p;
  StridedLayout<2> batch;
  for (int d = 0; d < last; ++d) {
    if (d == a) continue;
    batch.sizes[batch.rank] = l.sizes[d];
    for (int k = 0; k < 2; ++k) batch.strides[k][batch.rank] = l.strides[k][d];
    ++batch.rank;
  }
  p.batch = fast_layout(batch, 0, batch.rank);
  p.extent_a = l.sizes[a];
  p.extent_l = l.sizes[last];
  p.src_stride_l = l.strides[0][last];
  p.dst_stride_a = l.strides[1][a];
  p.src_base = c.src_base;
  p.dst_base = c.dst_base;
  const int64_t ta = (p.extent_a + kTile - 1) / kTile, tl = (p.extent_l + kTile - 1) / kTile;
  const int64_t batches = c.count / (p.extent_a * p.extent_l);
  if (ta * tl > kFastLimit / batches) return;
  p.tiles = batches * ta * tl;
  if (p.tiles >= kFastLimit) return;
  p.tiles_l = IntDivider(tl);
  p.tiles_a = IntDivider(ta);
  if (p.extent_l <= kShortRow) {
    const int64_t rows = batches * p.extent_a;
    visit_element_size(e, [&](auto tag) {
      using E = decltype(tag);
      short_row_transpose_kernel<E><<<grid_for(rows), kBlockSize, 0, stream>>>(
          static_cast<const E*>(src), static_cast<E*>(dst), p, IntDivider(p.extent_a), rows);
      KILN_CUDA_CHECK(cudaGetLastError());
    });
    launched = true;
    return;
  }
  visit_element_size(e, [&](auto tag) {
    using E = decltype(tag);
    tiled_transpose_kernel<E><<<grid_for(p.tiles, 1), dim3(kTile, kTileRows), 0, stream>>>(
        static_cast<const E*>(src), static_cast<E*>(dst), p);
    KILN_CUDA_CHECK(cudaGetLastError());
  });
  launched = true;
}

}  // namespace

CopyPath strided_copy_path(const StridedCopy& c, size_t element_bytes) {
  (void)element_bytes;
  if (c.count <= 0) return CopyPath::kNone;
  const StridedLayout<2>& l = c.layout;
  if (l.rank == 0 || (l.rank == 1 && l.strides[0][0] == 1 && l.strides[1][0] == 1))
    return CopyPath::kMemcpy;
  const int last = l.rank - 1;
  if (l.strides[0][last] == 1 && l.strides[1][last] == 1) return CopyPath::kRows;
  if (transposed_axis(l) >= 0 && c.count < kFastLimit) return CopyPath::kTiledTranspose;
  return CopyPath::kGeneric;
}

void launch_strided_copy(const void* src, void* dst, size_t element_bytes, const StridedCopy& c,
                         cudaStream_t stream) {
  const CopyPath path = strided_copy_path(c, element_bytes);
  if (path == CopyPath::kNone) return;
  if (path == CopyPath::kMemcpy) {
    KILN_CUDA_CHECK(cudaMemcpyAsync(
        static_cast<char*>(dst) + c.dst_base * static_cast<int64_t>(element_bytes),
        static_cast<const char*>(src) + c.src_base * static_cast<int64_t>(element_bytes),
        static_cast<size_t>(c.count) * element_bytes, cudaMemcpyDeviceToDevice, stream));
    return;
  }
  bool launched = false;
  if (path == CopyPath::kRows) launch_rows(src, dst, element_bytes, c, stream, launched);
  if (path == CopyPath::kTiledTranspose) launch_tiled(src, dst, element_bytes, c, stream, launched);
  if (launched) return;
  // Too many rows or tiles for the 31-bit fast index math: the general 64-bit kernel.
  visit_element_size(element_bytes, [&](auto tag) {
    using E = decltype(tag);
    strided_copy_kernel<<<grid_for(c.count), kBlockSize, 0, stream>>>(static_cast<const E*>(src),
                                                                      static_cast<E*>(dst), c);
    KILN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace kiln::cuda
