// CPU kernels of the unary math ops (Abs, Exp, Sin, Round, ...) and the predicates IsNaN/IsInf.
#include <cmath>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"

namespace kiln::cpu {
namespace {

struct AbsOp {
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      return std::abs(x);
    } else if constexpr (std::is_signed_v<C>) {
      return x < 0 ? wrap_neg(x) : x;  // Abs(INT_MIN) wraps to INT_MIN, as in two's complement
    } else {
      return x;
    }
  }
};

struct NegOp {
  template <typename T>
  static constexpr bool kAccepts = is_signed_numeric_v<T>;
  template <typename C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      return -x;
    } else {
      return wrap_neg(x);
    }
  }
};

struct SignOp {
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x) const {
    // Zero and NaN map to themselves, like numpy.sign.
    return x > C(0) ? C(1) : (x < C(0) ? static_cast<C>(-1) : x);
  }
};

struct NotOp {
  template <typename T>
  static constexpr bool kAccepts = std::is_same_v<T, bool>;
  bool operator()(bool x) const { return !x; }
};

struct BitwiseNotOp {
  template <typename T>
  static constexpr bool kAccepts = is_int_v<T>;
  template <typename C>
  C operator()(C x) const {
    return static_cast<C>(~x);
  }
};

template <typename T>
bool is_nan_value(T v) {
  if constexpr (std::is_same_v<T, Float8E4M3>) {
    return (v.bits & 0x7f) == 0x7f;  // E4M3FN's only NaN pattern, either sign
  } else {
    return std::isnan(static_cast<compute_t<T>>(v));
  }
}

// IsNaN / IsInf: a bool mask. E4M3FN has no infinities, so IsInf is all false for it.
template <bool kIsInf>
void predicate_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool* y = ctx.output(0).data<bool>();
  const bool want_pos = ctx.node.attrs.get_int("detect_positive", 1) != 0;
  const bool want_neg = ctx.node.attrs.get_int("detect_negative", 1) != 0;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T> || std::is_same_v<T, Float8E4M3>) {
      const T* p = x.data<T>();
      const int64_t n = x.numel();
      if constexpr (kIsInf) {
#pragma omp parallel for if (n >= kParallelMinElements)
        for (int64_t i = 0; i < n; ++i) {
          if constexpr (std::is_same_v<T, Float8E4M3>) {
            y[i] = false;
          } else {
            auto v = static_cast<compute_t<T>>(p[i]);
            y[i] = std::isinf(v) && (v > 0 ? want_pos : want_neg);
          }
        }
      } else {
#pragma omp parallel for if (n >= kParallelMinElements)
        for (int64_t i = 0; i < n; ++i) y[i] = is_nan_value(p[i]);
      }
    } else {
      fail_dtype(ctx, 0, x.dtype());
    }
  });
}

}  // namespace

void register_elementwise_kernels(CpuKernelRegistry& r) {
  r.add("Exp", unary_kernel<FloatUnary<[](auto x) { return std::exp(x); }>>);
  r.add("Log", unary_kernel<FloatUnary<[](auto x) { return std::log(x); }>>);
  r.add("Sqrt", unary_kernel<FloatUnary<[](auto x) { return std::sqrt(x); }>>);
  r.add("Reciprocal", unary_kernel<FloatUnary<[](auto x) { return decltype(x){1} / x; }>>);
  r.add("Floor", unary_kernel<FloatUnary<[](auto x) { return std::floor(x); }>>);
  r.add("Ceil", unary_kernel<FloatUnary<[](auto x) { return std::ceil(x); }>>);
  // nearbyint rounds in the default mode: to nearest, ties to even, as ONNX Round asks.
  r.add("Round", unary_kernel<FloatUnary<[](auto x) { return std::nearbyint(x); }>>);
  r.add("Sin", unary_kernel<FloatUnary<[](auto x) { return std::sin(x); }>>);
  r.add("Cos", unary_kernel<FloatUnary<[](auto x) { return std::cos(x); }>>);
  r.add("Tan", unary_kernel<FloatUnary<[](auto x) { return std::tan(x); }>>);
  r.add("Asin", unary_kernel<FloatUnary<[](auto x) { return std::asin(x); }>>);
  r.add("Acos", unary_kernel<FloatUnary<[](auto x) { return std::acos(x); }>>);
  r.add("Atan", unary_kernel<FloatUnary<[](auto x) { return std::atan(x); }>>);
  r.add("Sinh", unary_kernel<FloatUnary<[](auto x) { return std::sinh(x); }>>);
  r.add("Cosh", unary_kernel<FloatUnary<[](auto x) { return std::cosh(x); }>>);
  r.add("Asinh", unary_kernel<FloatUnary<[](auto x) { return std::asinh(x); }>>);
  r.add("Acosh", unary_kernel<FloatUnary<[](auto x) { return std::acosh(x); }>>);
  r.add("Atanh", unary_kernel<FloatUnary<[](auto x) { return std::atanh(x); }>>);
  r.add("Erf", unary_kernel<FloatUnary<[](auto x) { return std::erf(x); }>>);
  r.add("Abs", unary_kernel<AbsOp>);
  r.add("Neg", unary_kernel<NegOp>);
  r.add("Sign", unary_kernel<SignOp>);
  r.add("Not", unary_kernel<NotOp>);
  r.add("BitwiseNot", unary_kernel<BitwiseNotOp>);
  r.add("IsNaN", predicate_kernel<false>);
  r.add("IsInf", predicate_kernel<true>);
}

}  // namespace kiln::cpu
