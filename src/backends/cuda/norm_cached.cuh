// The register-cached LayerNormalization/RMSNormalization rows (row_cache.cuh): each row read once,
// its mean and variance from the cached values. Instantiated once per element type, each in its
// own .cu file (norm_cached_*.cu), so the many (threads, items) configurations compile in
// parallel rather than in one long nvcc run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/device_types.cuh"
#include "backends/cuda/param_vector.cuh"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/row_cache.cuh"

namespace kiln::cuda {

// Where the cached kernel writes a row's Mean/InvStdDev: float32 or the input's type, chosen at
// run time (lane 0 writes once per row), so the kernel is not instantiated per output type.
struct RowStats {
  void* mean = nullptr;
  void* inv_std = nullptr;
  bool as_float = true;

  template <typename T>
  __device__ __forceinline__ void write(int64_t r, float mean_v, float inv_v) const {
    if (as_float) {
      if (mean) static_cast<float*>(mean)[r] = mean_v;
      if (inv_std) static_cast<float*>(inv_std)[r] = inv_v;
    } else {
      if (mean) static_cast<T*>(mean)[r] = store<T>(mean_v);
      if (inv_std) static_cast<T*>(inv_std)[r] = store<T>(inv_v);
    }
  }
};

template <typename T>
void launch_normalize_cached(const T* x, T* y, int64_t rows, int64_t cols, float eps,
                             ParamVector scale, ParamVector bias, bool rms, RowStats stats,
                             cudaStream_t stream);

extern template void launch_normalize_cached<float>(const float*, float*, int64_t, int64_t, float,
                                                    ParamVector, ParamVector, bool, RowStats,
                                                    cudaStream_t);
extern template void launch_normalize_cached<half_t>(const half_t*, half_t*, int64_t, int64_t,
                                                     float, ParamVector, ParamVector, bool,
                                                     RowStats, cudaStream_t);
extern template void launch_normalize_cached<bf16_t>(const bf16_t*, bf16_t*, int64_t, int64_t,
                                                     float, ParamVector, ParamVector, bool,
                                                     RowStats, cudaStream_t);

}  // namespace kiln::cuda
