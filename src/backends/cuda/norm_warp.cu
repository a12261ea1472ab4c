// LayerNorm/RMSNorm rows of up to 2048 16-bit (1024 float) values, one warp per row: the row is
// read once with 16-byte loads into registers, its statistics come from warp shuffles (no shared
// memory, no block barrier), and scale and bias (X's type, as ONNX requires) are read with the
// same 16-byte loads. A transformer's rows of 768 take three loads per lane. Eight rows per block
// of 256.
#include <cstdint>
#include <type_traits>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/norm_warp.cuh"
#include "backends/cuda/reduce_ops.cuh"

namespace kiln::cuda {
namespace {

constexpr int kRowsPerBlock = 8;

// kN values of T in one 16-byte chunk.
template <typename T, int kN>
struct alignas(16) Chunk {
  T x[kN];
};

template <typename T, int kVecs>
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    normalize_warp_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int cols,
                               float eps, const T* __restrict__ scale, const T* __restrict__ bias,
                               bool rms, RowStats stats) {
  constexpr int kN = 16 / static_cast<int>(sizeof(T));
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row =
      static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + static_cast<int>(threadIdx.x) / 32;
  if (row >= rows) return;  // a whole warp leaves together
  const int chunks = cols / kN;
  const T* xr = x + row * cols;
  float v[kVecs][kN];
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = lane + i * 32;
    if (c < chunks) {
      const Chunk<T, kN> in = reinterpret_cast<const Chunk<T, kN>*>(xr)[c];
#pragma unroll
      for (int e = 0; e < kN; ++e) v[i][e] = static_cast<float>(in.x[e]);
    } else {
#pragma unroll
      for (int e = 0; e < kN; ++e) v[i][e] = 0.f;
    }
  }
  float mean = 0.f;
  if (!rms) {
    // Summed relative to the row's first value, as the other LayerNorm kernels do, so a large
    // common offset does not drown the deviations in the rounding of a large total.
    const float pivot = __shfl_sync(0xffffffffu, v[0][0], 0);
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < kVecs; ++i) {
      if (lane + i * 32 < chunks) {
#pragma unroll
        for (int e = 0; e < kN; ++e) s += v[i][e] - pivot;
      }
    }
    mean = pivot + warp_reduce(s, SumOp{}) / static_cast<float>(cols);
  }
  float sq = 0.f;
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    if (lane + i * 32 < chunks) {
#pragma unroll
      for (int e = 0; e < kN; ++e) {
        const float d = v[i][e] - mean;
        sq += d * d;
      }
    }
  }
  const float var = warp_reduce(sq, SumOp{}) / static_cast<float>(cols);
  const float inv = 1.f / sqrtf(var + eps);
  if (lane == 0) stats.write<T>(row, mean, inv);
  T* yr = y + row * cols;
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int c = lane + i * 32;
    if (c >= chunks) continue;
    const Chunk<T, kN> g = reinterpret_cast<const Chunk<T, kN>*>(scale)[c];
    Chunk<T, kN> b;
    if (bias) b = reinterpret_cast<const Chunk<T, kN>*>(bias)[c];
    Chunk<T, kN> out;
#pragma unroll
    for (int e = 0; e < kN; ++e) {
      float n = (v[i][e] - mean) * inv;
      // RMSNorm rounds the normalized value to X's type before the scale (the ONNX function).
      if (rms) n = static_cast<float>(static_cast<T>(n));
      float r = n * static_cast<float>(g.x[e]);
      if (bias) r += static_cast<float>(b.x[e]);
      out.x[e] = static_cast<T>(r);
    }
    reinterpret_cast<Chunk<T, kN>*>(yr)[c] = out;
  }
}

template <typename T>
void launch_typed(const WarpNormArgs& a, cudaStream_t stream) {
  constexpr int kN = 16 / static_cast<int>(sizeof(T));
  const int64_t chunks_per_lane = (a.cols / kN + 31) / 32;
  const auto grid = static_cast<unsigned>((a.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  const auto* x = static_cast<const T*>(a.x);
  auto* y = static_cast<T*>(a.y);
  const auto* scale = static_cast<const T*>(a.scale);
  const auto* bias = static_cast<const T*>(a.bias);
  const int cols = static_cast<int>(a.cols);
  auto go = [&](auto kernel) {
    kernel<<<grid, 32 * kRowsPerBlock, 0, stream>>>(x, y, a.rows, cols, a.eps, scale, bias, a.rms,
                                                    a.stats);
  };
  if (chunks_per_lane <= 1) {
    go(normalize_warp_rows_kernel<T, 1>);
  } else if (chunks_per_lane <= 2) {
    go(normalize_warp_rows_kernel<T, 2>);
  } else if (chunks_per_lane <= 4) {
    go(normalize_warp_rows_kernel<T, 4>);
  } else {
    go(normalize_warp_rows_kernel<T, 8>);
  }
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

bool warp_norm_applies(DataType x, DataType params, int64_t cols, int64_t param_count) {
  const bool sixteen = x == DataType::kFloat16 || x == DataType::kBFloat16;
  if ((!sixteen && x != DataType::kFloat32) || params != x) return false;
  const int64_t n = sixteen ? 8 : 4;
  return cols > 0 && cols % n == 0 && cols / n <= 32 * 8 && param_count == cols;
}

bool warp_norm_aligned(const WarpNormArgs& a) {
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return aligned(a.x) && aligned(a.y) && aligned(a.scale) && (!a.bias || aligned(a.bias));
}

void launch_warp_norm(const WarpNormArgs& a, cudaStream_t stream) {
  if (a.rows == 0) return;
  switch (a.x_type) {
    case DataType::kFloat16:
      return launch_typed<half_t>(a, stream);
    case DataType::kBFloat16:
      return launch_typed<bf16_t>(a, stream);
    default:
      return launch_typed<float>(a, stream);
  }
}

}  // namespace kiln::cuda
