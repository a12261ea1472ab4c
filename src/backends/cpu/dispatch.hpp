// The CPU's element types (core/dtype_dispatch.hpp with kiln's own Half, BFloat16 and
// Float8E4M3), so kernels are written once as templates: visit_dtype(t, [&](auto tag) { using T =
// decltype(tag); ... }), and the load/store pair through which they compute.
#pragma once

#include <cstdint>
#include <utility>

#include "core/dtype_dispatch.hpp"
#include "core/float_types.hpp"

namespace kiln::cpu {

template <typename F>
decltype(auto) visit_dtype(DataType t, F&& f) {
  return visit_element_type<Half, BFloat16, Float8E4M3>(t, std::forward<F>(f));
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
