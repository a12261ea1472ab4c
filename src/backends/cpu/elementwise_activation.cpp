// CPU kernels of the activation ops (Relu, Sigmoid, Gelu, ...), Clip and PRelu, by the formulas
// of ir/activation_math.hpp (which every backend shares), with ONNX's attribute defaults; and
// Swish, SwiGLU and Shrink, which round each step to the input type as the ONNX reference does.
#include <cmath>
#include <limits>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel_helpers.hpp"
#include "backends/cpu/values_as_double.hpp"
#include "ir/activation_math.hpp"

namespace kiln::cpu {
namespace {

template <typename T>
constexpr bool kFloatOnly = is_float_v<T>;

struct ReluOp {
  template <typename T>
  static constexpr bool kAccepts = is_signed_numeric_v<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::relu_value(x);
  }
};

struct LeakyReluOp {
  float alpha;
  static LeakyReluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kLeakyReluAlpha)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::leaky_relu_value(x, C(alpha));
  }
};

struct HardSigmoidOp {
  float alpha, beta;
  static HardSigmoidOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kHardSigmoidAlpha),
            n.attrs.get_float("beta", ir::kHardSigmoidBeta)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::hard_sigmoid_value(x, C(alpha), C(beta));
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
    return tanh_approximation ? ir::gelu_tanh_value(x) : ir::gelu_value(x);
  }
};

struct EluOp {
  float alpha;
  static EluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", ir::kEluAlpha)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::elu_value(x, C(alpha));
  }
};

struct SeluOp {
  float alpha, gamma;
  static SeluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kSeluAlpha), n.attrs.get_float("gamma", ir::kSeluGamma)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::selu_value(x, C(alpha), C(gamma));
  }
};

struct CeluOp {
  float alpha;
  static CeluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", ir::kCeluAlpha)}; }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::celu_value(x, C(alpha));
  }
};

struct ThresholdedReluOp {
  float alpha;
  static ThresholdedReluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kThresholdedReluAlpha)};
  }
  template <typename T>
  static constexpr bool kAccepts = kFloatOnly<T>;
  template <typename C>
  C operator()(C x) const {
    return ir::thresholded_relu_value(x, C(alpha));
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
      map_unary(x.data<T>(), y.data<T>(), x.numel(),
                [lo, hi](C v) { return ir::clip_value(v, lo, hi); });
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
                     return ir::leaky_relu_value(v, s);
                   }
                 });
    } else {
      fail_dtype(ctx, 0, x.dtype());
    }
  });
}

// x * sigmoid(alpha * x) computed as the reference does: x * (1 / (1 + exp(-alpha * x))), each
// step rounded to T.
template <typename T>
double swish(double x, double neg_alpha) {
  double e = round_to<T>(std::exp(round_to<T>(neg_alpha * x)));
  return round_to<T>(x * round_to<T>(1.0 / round_to<T>(1.0 + e)));
}

void run_swish(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  double alpha = ctx.node.attrs.get_float("alpha", 1.0f);
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    double neg_alpha = round_to<T>(-alpha);
    const T* xp = x.data<T>();
    T* yp = ctx.output(0).data<T>();
#pragma omp parallel for
    for (int64_t i = 0; i < x.numel(); ++i)
      yp[i] = store<T>(
          static_cast<compute_t<T>>(swish<T>(static_cast<double>(load(xp[i])), neg_alpha)));
  });
}

void run_swiglu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.shape() != b.shape())
    ctx.fail(ErrorCode::kInvalidArgument, "A ", shape_to_string(a.shape()), " and B ",
             shape_to_string(b.shape()), " must have the same shape");
  double alpha = ctx.node.attrs.get_float("alpha", 1.0f);
  visit_float_dtype(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    double neg_alpha = round_to<T>(-alpha);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* yp = ctx.output(0).data<T>();
#pragma omp parallel for
    for (int64_t i = 0; i < a.numel(); ++i) {
      double s = swish<T>(static_cast<double>(load(ap[i])), neg_alpha);
      yp[i] = store<T>(static_cast<compute_t<T>>(s * static_cast<double>(load(bp[i]))));
    }
  });
}

// x < -lambd: x + bias; x > lambd: x - bias; else 0. Integers compute in double and truncate.
void run_shrink(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  double lambd = ctx.node.attrs.get_float("lambd", 0.5f),
         bias = ctx.node.attrs.get_float("bias", 0.0f);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
    } else {
      const T* xp = x.data<T>();
      T* yp = ctx.output(0).data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        double v = static_cast<double>(load(xp[i]));
        double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
        if constexpr (std::is_integral_v<T>) {
          yp[i] = static_cast<T>(static_cast<int64_t>(r));
        } else {
          yp[i] = store<T>(static_cast<compute_t<T>>(r));
        }
      }
    }
  });
}

}  // namespace

void register_elementwise_activation_kernels(CpuKernelRegistry& r) {
  r.add("Relu", unary_kernel<ReluOp>);
  r.add("LeakyRelu", unary_kernel<LeakyReluOp>);
  r.add("Sigmoid", unary_kernel<FloatUnary<[](auto x) { return ir::sigmoid_value(x); }>>);
  r.add("Tanh", unary_kernel<FloatUnary<[](auto x) { return std::tanh(x); }>>);
  r.add("HardSigmoid", unary_kernel<HardSigmoidOp>);
  r.add("HardSwish", unary_kernel<FloatUnary<[](auto x) { return ir::hard_swish_value(x); }>>);
  r.add("Gelu", unary_kernel<GeluOp>);
  r.add("Elu", unary_kernel<EluOp>);
  r.add("Selu", unary_kernel<SeluOp>);
  r.add("Celu", unary_kernel<CeluOp>);
  r.add("Softplus", unary_kernel<FloatUnary<[](auto x) { return ir::softplus_value(x); }>>);
  r.add("Softsign", unary_kernel<FloatUnary<[](auto x) { return ir::softsign_value(x); }>>);
  r.add("Mish", unary_kernel<FloatUnary<[](auto x) { return ir::mish_value(x); }>>);
  r.add("ThresholdedRelu", unary_kernel<ThresholdedReluOp>);
  r.add("Clip", clip_kernel);
  r.add("PRelu", prelu_kernel);
  r.add("Swish", run_swish);
  r.add("SwiGLU", run_swiglu);
  r.add("Shrink", run_shrink);
}

}  // namespace kiln::cpu
