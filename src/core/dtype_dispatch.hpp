// The one dispatch from a DataType to a C++ element type, shared by the backends: each names the
// type it stores the reduced floats in (the CPU its own Half/BFloat16/Float8E4M3, CUDA the
// cuda_fp16/bf16/fp8 types); every other DataType maps to the same C++ type everywhere. Kernels
// are then written once as templates: visit(t, [&](auto tag) { using T = decltype(tag); ... }).
#pragma once

#include <cstdint>

#include "core/error.hpp"
#include "kiln/types.hpp"

namespace kiln {

// Calls f(T{}) with the element type of `t`, where the reduced floats are `Half`, `BFloat16` and
// `Float8E4M3` (the backend's storage types for fp16, bf16 and fp8 e4m3).
template <typename Half, typename BFloat16, typename Float8E4M3, typename F>
decltype(auto) visit_element_type(DataType t, F&& f) {
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

// Calls f(T{}) with an unsigned integer type of the element's size: ops that only move data
// (copies, transposes, gathers) are instantiated once per size, not per type.
template <typename F>
decltype(auto) visit_element_size(size_t bytes, F&& f) {
  switch (bytes) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
  }
  fail(ErrorCode::kInternal, "no element type of ", bytes, " bytes");
}

}  // namespace kiln
