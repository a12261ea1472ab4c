// Value helpers of the CPU kernels that compute as the ONNX reference does (attention, image,
// normalization, Swish/SwiGLU/Shrink): tensors read as doubles, and rounding to a storage type the
// way the reference materializes an intermediate.
#pragma once

#include <type_traits>
#include <vector>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

// x rounded to T's precision (and back to double); the identity for double.
template <typename T>
double round_to(double x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(x);
  } else if constexpr (is_reduced_float_v<T>) {
    return static_cast<float>(T(static_cast<float>(x)));
  } else {
    return static_cast<double>(static_cast<T>(x));
  }
}

using RoundFn = double (*)(double);
// round_to<T> for the float dtype t (float32, float64, float16, bfloat16).
RoundFn round_fn(DataType t);

// Every element of t (any dtype; bool as 0/1) as a double.
std::vector<double> to_doubles(const Tensor& t);
// Writes v into t, converting to t's dtype.
void from_doubles(Tensor& t, const std::vector<double>& v);

}  // namespace kiln::cpu
