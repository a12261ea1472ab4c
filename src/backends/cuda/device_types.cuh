// Device element types for kiln's DataTypes (fp16/bf16/fp8 from cuda_fp16/bf16/fp8.h), a host
// dispatch over them, and the load/store pair through which every kernel computes: reduced floats
// compute in float, everything else in its own type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/dtype_dispatch.hpp"
#include "ir/integer_math.hpp"

namespace kiln::cuda {

using half_t = __half;
using bf16_t = __nv_bfloat16;
using fp8_t = __nv_fp8_e4m3;

// Calls f(T{}) with the device element type of `t` (core/dtype_dispatch.hpp).
template <typename F>
decltype(auto) visit_device_dtype(DataType t, F&& f) {
  return visit_element_type<half_t, bf16_t, fp8_t>(t, std::forward<F>(f));
}

template <typename T>
constexpr bool is_reduced_float_v =
    std::is_same_v<T, half_t> || std::is_same_v<T, bf16_t> || std::is_same_v<T, fp8_t>;
// fp32, fp64, fp16, bf16: the types floating-point ops take (fp8 is storage only).
template <typename T>
constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, half_t> || std::is_same_v<T, bf16_t>;
template <typename T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
constexpr bool is_numeric_v = is_float_v<T> || is_int_v<T>;
template <typename T>
constexpr bool is_signed_numeric_v = is_float_v<T> || (is_int_v<T> && std::is_signed_v<T>);

// The type arithmetic happens in.
template <typename T>
using compute_t = std::conditional_t<is_reduced_float_v<T>, float, T>;

template <typename T>
__device__ __forceinline__ compute_t<T> load(T v) {
  return static_cast<compute_t<T>>(v);
}

template <typename T, typename C>
__device__ __forceinline__ T store(C v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != C(0);
  } else if constexpr (is_reduced_float_v<T>) {
    return T(static_cast<float>(v));  // round to nearest even; fp8 saturates to +-448
  } else {
    return static_cast<T>(v);
  }
}

// Wrapping integer arithmetic and float-to-integer conversion, shared with the CPU backend
// (ir/integer_math.hpp).
using ir::float_to_int;
using ir::wide_unsigned_t;
using ir::wrap_add;
using ir::wrap_mul;
using ir::wrap_sub;

}  // namespace kiln::cuda
