// CPU kernels of Cast and CastLike between every pair of kiln types, following the ONNX Cast
// rules: float to integer truncates (NaN gives 0, out-of-range saturates, where ONNX leaves it
// undefined), integer to integer wraps, anything to bool is "nonzero", fp8 saturates or not per
// the `saturate` attribute, and narrowing float conversions round once, to nearest even.
#include <cmath>
#include <cstring>

#include "backends/cpu/cast.hpp"
#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"

namespace kiln::cpu {
namespace {

// double -> float rounding toward zero with the last bit set when inexact ("round to odd"). A
// float rounded so keeps enough information for a second rounding to fp16/bf16/fp8 to equal the
// direct, correctly rounded double -> fp16 conversion (no double-rounding error).
float to_float_round_odd(double d) {
  auto f = static_cast<float>(d);
  if (!std::isfinite(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits |= 1;
  std::memcpy(&f, &bits, sizeof bits);
  return f;
}

template <typename T>
constexpr bool is_any_float_v = is_float_v<T> || std::is_same_v<T, Float8E4M3>;

// The value of `v` as a float or double (for floats) or as itself (for integers and bool).
template <typename From>
auto widen(From v) {
  if constexpr (is_reduced_float_v<From>) {
    return static_cast<float>(v);
  } else {
    return v;
  }
}

template <typename From, typename To>
To convert(From v, bool saturate) {
  if constexpr (std::is_same_v<From, To>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return widen(v) != 0;  // NaN is nonzero, hence true
  } else if constexpr (std::is_same_v<From, bool>) {
    if constexpr (is_reduced_float_v<To>)
      return To(v ? 1.0f : 0.0f);
    else
      return static_cast<To>(v ? 1 : 0);
  } else if constexpr (is_int_v<To>) {
    if constexpr (is_any_float_v<From>)
      return float_to_int<To>(widen(v));
    else
      return static_cast<To>(v);  // integer narrowing wraps (two's complement, C++20)
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(widen(v));
  } else {
    // To is fp16, bf16 or fp8: reach it from a float that rounds correctly.
    float f;
    if constexpr (std::is_same_v<From, double> || std::is_same_v<From, int64_t> ||
                  std::is_same_v<From, uint64_t> || std::is_same_v<From, int32_t> ||
                  std::is_same_v<From, uint32_t>) {
      f = to_float_round_odd(static_cast<double>(v));
    } else {
      f = static_cast<float>(widen(v));
    }
    if constexpr (std::is_same_v<To, Float8E4M3>) {
      Float8E4M3 out;
      out.bits = float_to_fp8e4m3_bits(f, saturate);
      return out;
    } else {
      return To(f);
    }
  }
}

void cast_kernel(KernelContext& ctx) {
  cast_into(ctx.input(0), ctx.output(0), ctx.node.attrs.get_int("saturate", 1) != 0);
}

}  // namespace

void cast_into(const Tensor& in, Tensor& out, bool saturate) {
  if (in.numel() != out.numel()) {
    fail(ErrorCode::kInternal, "cast of ", in.numel(), " elements into ", out.numel());
  }
  const int64_t n = in.numel();
  if (in.dtype() == out.dtype()) {
    if (n > 0) std::memcpy(out.raw(), in.raw(), in.nbytes());
    return;
  }
  visit_dtype(in.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    visit_dtype(out.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* src = in.data<From>();
      To* dst = out.data<To>();
#pragma omp parallel for if (n >= kParallelMinElements)
      for (int64_t i = 0; i < n; ++i) dst[i] = convert<From, To>(src[i], saturate);
    });
  });
}

void register_elementwise_cast_kernels(CpuKernelRegistry& r) {
  r.add("Cast", cast_kernel);
  // CastLike's output type comes from input 1 through inference; the conversion is Cast's.
  r.add("CastLike", cast_kernel);
}

}  // namespace kiln::cpu
