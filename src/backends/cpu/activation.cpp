// CPU kernels of the activation ops (Relu, Sigmoid, Gelu, ...), Clip and PRelu. Formulas follow
// the ONNX operator definitions, rewritten where needed so large |x| neither overflows nor loses
// precision (Sigmoid, Softplus, Mish).
#include <cmath>
#include <limits>
#include <numbers>

#include "backends/cpu/elementwise_kernels.hpp"

namespace kiln::cpu {
namespace {

template <typename T>
constexpr bool kFloatOnly = is_float_v<T>;

struct ReluOp {
  template <typename T>
  static constexpr bool kAccepts = is_signed_numeric_v<T>;
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? C(0) : x;  // NaN stays NaN
  }
};

struct LeakyReluOp {
  float alpha;
  static LeakyReluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", 0.01f)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? C(alpha) * x : x;
  }
};

struct SigmoidOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    // exp of a non-positive argument only, so neither branch overflows.
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    C e = std::exp(x);
    return e / (C(1) + e);
  }
};

struct TanhOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return std::tanh(x);
  }
};

struct HardSigmoidOp {
  float alpha, beta;
  static HardSigmoidOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", 0.2f), n.attrs.get_float("beta", 0.5f)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    C v = C(alpha) * x + C(beta);
    return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
  }
};

struct HardSwishOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    C v = x / C(6) + C(0.5);
    return x * (v < C(0) ? C(0) : (v > C(1) ? C(1) : v));
  }
};

struct GeluOp {
  bool tanh_approximation;
  static GeluOp make(const ir::Node& n) {
    return {n.attrs.get_string("approximate", "none") == "tanh"};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    if (tanh_approximation) {
      const C k = std::sqrt(C(2) / std::numbers::pi_v<C>);
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
    return C(0.5) * x * (C(1) + std::erf(x / std::numbers::sqrt2_v<C>));
  }
};

struct EluOp {
  float alpha;
  static EluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", 1.0f)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x < C(0) ? C(alpha) * std::expm1(x) : x;
  }
};

struct SeluOp {
  float alpha, gamma;
  static SeluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", 1.67326319217681884765625f),
            n.attrs.get_float("gamma", 1.05070102214813232421875f)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x > C(0) ? C(gamma) * x : C(gamma) * (C(alpha) * std::exp(x) - C(alpha));
  }
};

struct CeluOp {
  float alpha;
  static CeluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", 1.0f)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    return x > C(0) ? x : C(alpha) * std::expm1(x / C(alpha));
  }
};

// log(1 + exp(x)) without overflow for large x or loss for very negative x.
template <typename C>
C softplus(C x) {
  return (x > C(0) ? x : C(0)) + std::log1p(std::exp(-std::abs(x)));
}

struct SoftplusOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return softplus(x);
  }
};

struct SoftsignOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x / (C(1) + std::abs(x));
  }
};

struct MishOp {
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x * std::tanh(softplus(x));
  }
};

struct ThresholdedReluOp {
  float alpha;
  static ThresholdedReluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", 1.0f)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return x > C(alpha) ? x : C(0);
  }
};

// The largest finite value of T, the bound an omitted Clip input stands for (ONNX: the type's
// numeric_limits max, so an infinity clips to it, as in ONNX Runtime).
template <typename T>
double largest_finite() {
  if constexpr (std::is_same_v<T, Half>) {
    return 65504.0;
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return 3.3895313892515355e38;
  } else {
    return static_cast<double>(std::numeric_limits<T>::max());
  }
}

// Clip(x, min?, max?): an omitted bound is the type's lowest or largest finite value. max is
// applied last, so when min > max every element becomes max, as ONNX specifies; NaN passes
// through.
void clip_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_numeric_v<T>) {
      using C = compute_t<T>;
      auto bound = [&](size_t i, C fallback) {
        if (!ctx.has_input(i)) return fallback;
        const Tensor& b = ctx.input(i);
        if (b.numel() != 1) {
          ctx.fail(ErrorCode::kInvalidArgument, "bound input ", i, " must hold one value, has ",
                   b.numel());
        }
        return load(b.data<T>()[0]);
      };
      using Limits = std::numeric_limits<C>;
      const C lo =
          bound(1, is_float_v<T> ? static_cast<C>(-largest_finite<T>()) : Limits::lowest());
      const C hi = bound(2, is_float_v<T> ? static_cast<C>(largest_finite<T>()) : Limits::max());
      map_unary(x.data<T>(), y.data<T>(), x.numel(), [lo, hi](C v) {
        v = v < lo ? lo : v;
        return hi < v ? hi : v;
      });
    } else {
      fail_dtype(ctx, 0, x.dtype());
    }
  });
}

// PRelu(x, slope): slope broadcasts to x.
void prelu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_numeric_v<T>) {
      using C = compute_t<T>;
      map_binary(x.data<T>(), x.shape(), slope.data<T>(), slope.shape(), y.data<T>(), y.shape(),
                 [](C v, C s) -> C {
                   if constexpr (is_int_v<C>) {
                     return v < C(0) ? wrap_mul(s, v) : v;
                   } else {
                     return v < C(0) ? s * v : v;
                   }
                 });
    } else {
      fail_dtype(ctx, 0, x.dtype());
    }
  });
}

}  // namespace

void register_activation_kernels(CpuKernelRegistry& r) {
  r.add("Relu", unary_kernel<ReluOp>);
  r.add("LeakyRelu", unary_kernel<LeakyReluOp>);
  r.add("Sigmoid", unary_kernel<SigmoidOp>);
  r.add("Tanh", unary_kernel<TanhOp>);
  r.add("HardSigmoid", unary_kernel<HardSigmoidOp>);
  r.add("HardSwish", unary_kernel<HardSwishOp>);
  r.add("Gelu", unary_kernel<GeluOp>);
  r.add("Elu", unary_kernel<EluOp>);
  r.add("Selu", unary_kernel<SeluOp>);
  r.add("Celu", unary_kernel<CeluOp>);
  r.add("Softplus", unary_kernel<SoftplusOp>);
  r.add("Softsign", unary_kernel<SoftsignOp>);
  r.add("Mish", unary_kernel<MishOp>);
  r.add("ThresholdedRelu", unary_kernel<ThresholdedReluOp>);
  r.add("Clip", clip_kernel);
  r.add("PRelu", prelu_kernel);
}

}  // namespace kiln::cpu
