// Device-side element loads/stores (float16/bfloat16 through float, float64 as double) and the
// fused-layer activations, with the formulas of the CPU kernels (backends/cpu/epilogue.hpp) so the
// CUDA results match the reference up to float rounding. Included by .cu files only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "ir/activation.hpp"
#include "ir/activation_math.hpp"

namespace kiln::cuda::device {

template <typename T>
struct Compute {
  using type = float;
};
template <>
struct Compute<double> {
  using type = double;
};
template <typename T>
using compute_t = typename Compute<T>::type;

template <typename T>
__device__ __forceinline__ compute_t<T> load(T v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(v);
  } else {
    return v;
  }
}

template <typename T>
__device__ __forceinline__ T store(compute_t<T> v) {
  if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(v);
  } else {
    return v;
  }
}

// The value as the unfused op would have stored it (a no-op for float32 and float64).
template <typename T>
__device__ __forceinline__ compute_t<T> round_to(compute_t<T> v) {
  return load<T>(store<T>(v));
}

// The activation parameters as plain values, passable to a kernel.
struct ActivationParams {
  int kind = 0;  // ir::ActivationKind
  float alpha = 0, beta = 0;
};

inline ActivationParams to_params(const ir::Activation& a) {
  return {static_cast<int>(a.kind), a.alpha, a.beta};
}

template <typename C>
__device__ __forceinline__ C sigmoid(C v) {
  return ir::sigmoid_value(v);
}

template <typename C>
__device__ __forceinline__ C clamp01(C v) {
  return ir::clamp01_value(v);
}

template <typename C>
__device__ C apply_activation(const ActivationParams& a, C x) {
  return ir::activation_value(static_cast<ir::ActivationKind>(a.kind), C(a.alpha), C(a.beta), x);
}

}  // namespace kiln::cuda::device
