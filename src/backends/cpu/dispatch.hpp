// Calls a generic lambda with a value of the C++ element type matching a DataType, so kernels are
// written once as templates: visit_dtype(t, [&](auto tag) { using T = decltype(tag); ... }).
#pragma once

#include <cstdint>

#include "core/error.hpp"
#include "core/float_types.hpp"

namespace kiln::cpu {

template <typename F>
decltype(auto) visit_dtype(DataType t, F&& f) {
  switch (t) {
    case DataType::kFloat32:
      return f(float{});
    case DataType::kFloat64:
      return f(double{});
    case DataType::kFloat16:
      return f(Half{});
    case DataType::kBFloat16:
      return f(BFloat16{});
    case DataType::kFloat8E4M3:
      return f(Float8E4M3{});
    case DataType::kInt8:
      return f(int8_t{});
    case DataType::kUInt8:
      return f(uint8_t{});
    case DataType::kInt16:
      return f(int16_t{});
    case DataType::kUInt16:
      return f(uint16_t{});
    case DataType::kInt32:
      return f(int32_t{});
    case DataType::kUInt32:
      return f(uint32_t{});
    case DataType::kInt64:
      return f(int64_t{});
    case DataType::kUInt64:
      return f(uint64_t{});
    case DataType::kBool:
      return f(bool{});
  }
  fail(ErrorCode::kInternal, "unknown dtype ", static_cast<int>(t));
}

// True for the storage types that compute through float (fp16, bf16, fp8).
template <typename T>
constexpr bool is_reduced_float_v =
    std::is_same_v<T, Half> || std::is_same_v<T, BFloat16> || std::is_same_v<T, Float8E4M3>;

// The type arithmetic happens in: float for reduced floats, T otherwise.
template <typename T>
using compute_t = std::conditional_t<is_reduced_float_v<T>, float, T>;

template <typename T>
compute_t<T> load(T v) {
  return static_cast<compute_t<T>>(v);
}

template <typename T, typename C>
T store(C v) {
  return static_cast<T>(v);
}

}  // namespace kiln::cpu
