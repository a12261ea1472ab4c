// The warp-per-row LayerNorm/RMSNorm kernel (norm_warp.cu): rows read once with 16-byte loads,
// statistics by warp shuffles, scale and bias per column in the input's type.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/norm_cached.cuh"
#include "kiln/types.hpp"

namespace kiln::cuda {

struct WarpNormArgs {
  const void* x = nullptr;
  void* y = nullptr;
  const void* scale = nullptr;  // `cols` values of type `params`
  const void* bias = nullptr;   // optional; same type as scale
  int64_t rows = 0, cols = 0;
  float eps = 1e-5f;
  bool rms = false;
  RowStats stats;
  DataType x_type = DataType::kFloat32;  // also the scale's and bias's (warp_norm_applies)
};

// Whether the kernel takes rows of `cols` values of type `x` with `param_count` scale (and bias)
// values of type `params`: float32/float16/bfloat16 rows of whole 16-byte chunks, at most 8
// chunks per lane, parameters of X's type, one per column (not a single broadcast value).
bool warp_norm_applies(DataType x, DataType params, int64_t cols, int64_t param_count);
// Whether every pointer is 16-byte aligned (else the caller runs another kernel).
bool warp_norm_aligned(const WarpNormArgs& args);
void launch_warp_norm(const WarpNormArgs& args, cudaStream_t stream);

}  // namespace kiln::cuda
