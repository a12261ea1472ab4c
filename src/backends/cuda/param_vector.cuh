// A small vector of per-channel parameters (scale, bias, mean, variance) of any float type, read
// on the device through a runtime type switch: the normalization kernels then need no
// instantiation per parameter type, and the branch is uniform across a warp.
#pragma once

#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_types.cuh"

namespace kiln::cuda {

struct ParamVector {
  const void* data = nullptr;  // nullptr: absent (reads give `fallback`)
  DataType dtype = DataType::kFloat32;
  int64_t count = 0;  // 1: one value for every index

  static ParamVector of(const DeviceTensor& t) { return {t.data, t.dtype, t.numel()}; }

  template <typename A>
  __device__ __forceinline__ A at(int64_t i, A fallback) const {
    if (!data) return fallback;
    if (count == 1) i = 0;
    switch (dtype) {
      case DataType::kFloat16:
        return static_cast<A>(static_cast<float>(static_cast<const half_t*>(data)[i]));
      case DataType::kBFloat16:
        return static_cast<A>(static_cast<float>(static_cast<const bf16_t*>(data)[i]));
      case DataType::kFloat64:
        return static_cast<A>(static_cast<const double*>(data)[i]);
      default:
        return static_cast<A>(static_cast<const float*>(data)[i]);
    }
  }
};

// True for the parameter types ParamVector reads.
inline bool is_param_dtype(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 ||
         t == DataType::kFloat64;
}

}  // namespace kiln::cuda
