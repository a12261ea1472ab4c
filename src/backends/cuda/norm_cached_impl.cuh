// The definitions behind norm_cached.cuh, included by one norm_cached_<type>.cu per element type.
#pragma once

#include "backends/cuda/norm_cached.cuh"

namespace kiln::cuda {

// LayerNormalization and RMSNormalization (scale and bias indexed by column) with each row read
// once: the mean and then the variance (of the deviations, as the two-pass kernel computes it)
// come from the cached values.
template <typename T, int kThreads, int kItems, bool kVector>
__global__ void __launch_bounds__(kThreads* kRowsPerBlock<kThreads>)
    normalize_cached_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                 int64_t cols, float eps, ParamVector scale, ParamVector bias,
                                 bool rms, RowStats stats) {
  using Row = CachedRow<T, kThreads, kItems, kVector>;
  using A = typename Row::A;
  __shared__ A scratch[32];
  const RowPlace<kThreads> place;
  for (int64_t r = place.first_row(); r < rows; r += RowPlace<kThreads>::row_step()) {
    Row row;
    row.load(x + r * cols, cols, place.lane, A(0));
    A mean = 0;
    if (!rms) {
      // Summed relative to the row's first value: a row with a large common offset (values near
      // 40 with a spread of 1) keeps its deviations exact instead of losing them to rounding of
      // a large total.
      const A pivot = load(x[r * cols]);
      A s = 0;
#pragma unroll
      for (int k = 0; k < kItems; ++k) {
        if (Row::column(place.lane, k) < cols) s += row.v[k] - pivot;
      }
      mean = pivot + group_reduce<kThreads>(s, SumOp{}, scratch) / static_cast<A>(cols);
    }
    A sq = 0;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const A d = Row::column(place.lane, k) < cols ? row.v[k] - mean : A(0);
      sq += d * d;
    }
    const A var = group_reduce<kThreads>(sq, SumOp{}, scratch) / static_cast<A>(cols);
    const A inv = A(1) / sqrt(var + static_cast<A>(eps));
    if (place.lane == 0) stats.write<T>(r, mean, inv);
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const int64_t i = Row::column(place.lane, k);
      A v = (row.v[k] - mean) * inv;
      // RMSNorm rounds the normalized value to X's type before the scale (the ONNX function).
      if (rms) v = load(store<T>(v));
      // Slots past the row are never stored; clamp their parameter index instead of branching.
      const int64_t p = i < cols ? i : 0;
      row.v[k] = v * scale.at<A>(p, A(1)) + bias.at<A>(p, A(0));
    }
    row.store(y + r * cols, cols, place.lane);
  }
}

template <typename T>
void launch_normalize_cached(const T* x, T* y, int64_t rows, int64_t cols, float eps,
                             ParamVector scale, ParamVector bias, bool rms, RowStats stats,
                             cudaStream_t stream) {
  const bool vector =
      rows_vectorizable(x, cols, sizeof(T)) && rows_vectorizable(y, cols, sizeof(T));
  with_row_config(cols, [&](auto threads, auto items) {
    constexpr int kThreads = decltype(threads)::value, kItems = decltype(items)::value;
    const unsigned grid = cached_row_grid<kThreads>(rows);
    const unsigned block = kThreads * kRowsPerBlock<kThreads>;
    if (vector) {
      normalize_cached_rows_kernel<T, kThreads, kItems, true>
          <<<grid, block, 0, stream>>>(x, y, rows, cols, eps, scale, bias, rms, stats);
    } else {
      normalize_cached_rows_kernel<T, kThreads, kItems, false>
          <<<grid, block, 0, stream>>>(x, y, rows, cols, eps, scale, bias, rms, stats);
    }
  });
}

}  // namespace kiln::cuda
