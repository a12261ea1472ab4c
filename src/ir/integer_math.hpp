// Integer semantics both backends share (ir/host_device.hpp): arithmetic that wraps modulo 2^bits
// instead of overflowing (signed overflow is undefined in C++, and narrow unsigned types promote
// to int, which can overflow too), float-to-integer conversion, and integer Pow.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "ir/host_device.hpp"

namespace kiln::ir {

template <typename T>
using wide_unsigned_t = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;

template <typename T>
KILN_HOST_DEVICE inline T wrap_add(T a, T b) {
  using W = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<W>(a) + static_cast<W>(b));
}
template <typename T>
KILN_HOST_DEVICE inline T wrap_sub(T a, T b) {
  using W = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<W>(a) - static_cast<W>(b));
}
template <typename T>
KILN_HOST_DEVICE inline T wrap_mul(T a, T b) {
  using W = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<W>(a) * static_cast<W>(b));
}

// Float to integer conversion, truncating toward zero. C++ leaves NaN and out-of-range values
// undefined (ONNX does too); kiln maps NaN to 0 and saturates at the type's limits.
template <typename I, typename F>
KILN_HOST_DEVICE inline I float_to_int(F v) {
  if (v != v) return I{0};
  if (v <= static_cast<F>(std::numeric_limits<I>::lowest()))
    return std::numeric_limits<I>::lowest();
  // max() may round up in F (2^63 - 1 becomes 2^63), so compare against that bound exclusively.
  if (v >= static_cast<F>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// Integer power by squaring, wrapping on overflow. A negative exponent gives the truncated
// reciprocal: 1 for base 1, +-1 for base -1, else 0.
template <typename B, typename E>
KILN_HOST_DEVICE inline B int_pow(B base, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {
      if (base == 1) return B(1);
      if constexpr (std::is_signed_v<B>) {
        if (base == B(-1)) return (e % 2 == 0) ? B(1) : B(-1);
      }
      return B(0);
    }
  }
  B result = 1;
  while (e > 0) {
    if (e & 1) result = wrap_mul(result, base);
    base = wrap_mul(base, base);
    e = static_cast<E>(e >> 1);
  }
  return result;
}

}  // namespace kiln::ir
