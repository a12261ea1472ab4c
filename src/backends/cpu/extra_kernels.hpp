// Registration functions of the extra family's CPU kernel groups (register_extra_kernels in
// extra.cpp calls them all), and the value helpers they share: tensors read as doubles, and
// rounding to a storage type the way the ONNX reference materializes an intermediate.
#pragma once

#include <type_traits>
#include <vector>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_attention_kernels(CpuKernelRegistry& r);        // Attention, RotaryEmbedding
void register_norm_activation_kernels(CpuKernelRegistry& r);  // RMSNorm, LRN, MVN, Swish, ...
void register_image_kernels(CpuKernelRegistry& r);            // RoiAlign, GridSample, ...
void register_selection_kernels(CpuKernelRegistry& r);        // CumProd, Unique, Compress, ...

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
