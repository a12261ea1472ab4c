// CUDA kernels of the unary elementwise ops: math (Exp, Sin, Erf...), activations (Relu, Gelu,
// Mish...), predicates (IsNaN, IsInf) and Clip. The activations use the formulas of
// ir/activation_math.hpp, which the CPU backend shares, with ONNX's attribute defaults.
#include <cfloat>

#include "backends/cuda/elementwise_map.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "ir/activation_math.hpp"

namespace kiln::cuda {
namespace {

// A floating-point function of one argument; kFn picks it by number so that one struct serves
// every math op (device lambdas cannot be template arguments).
enum class Math {
  kExp,
  kLog,
  kSqrt,
  kReciprocal,
  kFloor,
  kCeil,
  kRound,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
  kErf,
  kTanh,
  kSigmoid,
  kSoftplus,
  kSoftsign,
  kMish,
  kHardSwish
};

template <Math kFn>
struct MathOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kFn == Math::kExp) return exp(x);
    if constexpr (kFn == Math::kLog) return log(x);
    if constexpr (kFn == Math::kSqrt) return sqrt(x);
    if constexpr (kFn == Math::kReciprocal) return C(1) / x;
    if constexpr (kFn == Math::kFloor) return floor(x);
    if constexpr (kFn == Math::kCeil) return ceil(x);
    if constexpr (kFn == Math::kRound) return rint(x);  // ties to even
    if constexpr (kFn == Math::kSin) return sin(x);
    if constexpr (kFn == Math::kCos) return cos(x);
    if constexpr (kFn == Math::kTan) return tan(x);
    if constexpr (kFn == Math::kAsin) return asin(x);
    if constexpr (kFn == Math::kAcos) return acos(x);
    if constexpr (kFn == Math::kAtan) return atan(x);
    if constexpr (kFn == Math::kSinh) return sinh(x);
    if constexpr (kFn == Math::kCosh) return cosh(x);
    if constexpr (kFn == Math::kAsinh) return asinh(x);
    if constexpr (kFn == Math::kAcosh) return acosh(x);
    if constexpr (kFn == Math::kAtanh) return atanh(x);
    if constexpr (kFn == Math::kErf) return erf(x);
    if constexpr (kFn == Math::kTanh) return tanh(x);
    if constexpr (kFn == Math::kSigmoid) return ir::sigmoid_value(x);
    if constexpr (kFn == Math::kSoftplus) return ir::softplus_value(x);
    if constexpr (kFn == Math::kSoftsign) return ir::softsign_value(x);
    if constexpr (kFn == Math::kMish) return ir::mish_value(x);
    if constexpr (kFn == Math::kHardSwish) return ir::hard_swish_value(x);
  }
};

struct ReluOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_signed_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::relu_value(x);
  }
};

struct AbsOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      return fabs(x);
    } else if constexpr (std::is_signed_v<C>) {
      return x < 0 ? wrap_sub(C(0), x) : x;  // Abs(INT_MIN) wraps to INT_MIN
    } else {
      return x;
    }
  }
};

struct NegOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_signed_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      return -x;
    } else {
      return wrap_sub(C(0), x);
    }
  }
};

struct SignOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (std::is_unsigned_v<C>) {
      return x > C(0) ? C(1) : C(0);
    } else {
      return x > C(0) ? C(1) : (x < C(0) ? static_cast<C>(-1) : x);
    }
  }
};

struct NotOp {
  template <typename T>
  static constexpr bool accepts() {
    return std::is_same_v<T, bool>;
  }
  __device__ __forceinline__ bool operator()(bool x) const { return !x; }
};

struct BitwiseNotOp {
  template <typename T>
  static constexpr bool accepts() {
    return is_int_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return static_cast<C>(~x);
  }
};

struct LeakyReluOp {
  float alpha;
  static LeakyReluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kLeakyReluAlpha)};
  }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
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
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::hard_sigmoid_value(x, C(alpha), C(beta));
  }
};

struct GeluOp {
  bool tanh_approximation;
  static GeluOp make(const ir::Node& n) {
    return {n.attrs.get_string("approximate", "none") == "tanh"};
  }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return tanh_approximation ? ir::gelu_tanh_value(x) : ir::gelu_value(x);
  }
};

struct EluOp {
  float alpha;
  static EluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", ir::kEluAlpha)}; }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::elu_value(x, C(alpha));
  }
};

struct SeluOp {
  float alpha, gamma;
  static SeluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kSeluAlpha), n.attrs.get_float("gamma", ir::kSeluGamma)};
  }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::selu_value(x, C(alpha), C(gamma));
  }
};

struct CeluOp {
  float alpha;
  static CeluOp make(const ir::Node& n) { return {n.attrs.get_float("alpha", ir::kCeluAlpha)}; }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::celu_value(x, C(alpha));
  }
};

struct ThresholdedReluOp {
  float alpha;
  static ThresholdedReluOp make(const ir::Node& n) {
    return {n.attrs.get_float("alpha", ir::kThresholdedReluAlpha)};
  }
  template <typename T>
  static constexpr bool accepts() {
    return is_float_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    return ir::thresholded_relu_value(x, C(alpha));
  }
};

// Runs Op over input 0 into output 0 of the same type.
template <typename Op>
class UnaryKernel final : public CudaKernel {
 public:
  explicit UnaryKernel(const ir::Node& node) : op_(make_op<Op>(node)) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      if constexpr (!Op::template accepts<decltype(tag)>()) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    });
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (Op::template accepts<T>()) {
        launch_unary_map(x.as<const T>(), ctx.outputs[0].as<T>(), x.numel(), op_, ctx.stream);
      }
    });
  }

 private:
  Op op_;
};

// IsNaN / IsInf: a bool mask of a float input (fp8 E4M3FN has no infinities).
struct IsNanOp {
  template <typename C>
  __device__ __forceinline__ bool operator()(C x) const {
    return x != x;
  }
};
struct IsInfOp {
  bool positive, negative;
  template <typename C>
  __device__ __forceinline__ bool operator()(C x) const {
    return isinf(x) && (x > C(0) ? positive : negative);
  }
};

template <bool kIsInf>
class PredicateKernel final : public CudaKernel {
 public:
  explicit PredicateKernel(const ir::Node& node)
      : inf_{node.attrs.get_int("detect_positive", 1) != 0,
             node.attrs.get_int("detect_negative", 1) != 0} {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!is_float_v<T> && !std::is_same_v<T, fp8_t>) {
        fail_dtype(ctx, 0, ctx.inputs[0].dtype);
      }
    });
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    bool* y = ctx.outputs[0].as<bool>();
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T> || std::is_same_v<T, fp8_t>) {
        if constexpr (kIsInf) {
          launch_unary_map(x.as<const T>(), y, x.numel(), inf_, ctx.stream);
        } else {
          launch_unary_map(x.as<const T>(), y, x.numel(), IsNanOp{}, ctx.stream);
        }
      }
    });
  }

 private:
  IsInfOp inf_;
};

// Clip(x, min?, max?): the bounds stay on the device (they may be runtime tensors); an omitted one
// is the type's lowest or largest finite value (ONNX: numeric_limits, so an infinity clips to it,
// as on the CPU). max applies last, so min > max gives max everywhere, as ONNX specifies.
template <typename T>
struct ClipOp {
  const T* lo;
  const T* hi;
  double largest;  // T's largest finite value, for floats
  template <typename C>
  __device__ __forceinline__ C operator()(C x) const {
    if (lo) {
      C l = load(*lo);
      x = x < l ? l : x;
    } else if constexpr (std::is_floating_point_v<C>) {
      x = x < C(-largest) ? C(-largest) : x;
    }
    if (hi) {
      C h = load(*hi);
      x = h < x ? h : x;
    } else if constexpr (std::is_floating_point_v<C>) {
      x = C(largest) < x ? C(largest) : x;
    }
    return x;
  }
};

// The largest finite value of a float type.
double largest_finite(DataType t) {
  switch (t) {
    case DataType::kFloat16:
      return 65504.0;
    case DataType::kBFloat16:
      return 3.3895313892515355e38;
    case DataType::kFloat64:
      return DBL_MAX;
    default:
      return FLT_MAX;
  }
}

class ClipKernel final : public CudaKernel {
 public:
  explicit ClipKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      if constexpr (!is_numeric_v<decltype(tag)>) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    });
    for (size_t i = 1; i < 3; ++i) {
      if (i < ctx.inputs.size() && ctx.node.input(i) && ctx.inputs[i].numel() != 1) {
        ctx.fail(ErrorCode::kInvalidArgument, "bound input ", i, " must hold one value, has ",
                 ctx.inputs[i].numel());
      }
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_numeric_v<T>) {
        ClipOp<T> op{ctx.has_input(1) ? ctx.inputs[1].as<const T>() : nullptr,
                     ctx.has_input(2) ? ctx.inputs[2].as<const T>() : nullptr,
                     largest_finite(x.dtype)};
        launch_unary_map(x.as<const T>(), ctx.outputs[0].as<T>(), x.numel(), op, ctx.stream);
      }
    });
  }
};

template <Math kFn>
void add_math(CudaKernelRegistry& r, const char* op) {
  r.add(op, make_kernel<UnaryKernel<MathOp<kFn>>>);
}

}  // namespace

void register_elementwise_kernels(CudaKernelRegistry& r) {
  add_math<Math::kExp>(r, "Exp");
  add_math<Math::kLog>(r, "Log");
  add_math<Math::kSqrt>(r, "Sqrt");
  add_math<Math::kReciprocal>(r, "Reciprocal");
  add_math<Math::kFloor>(r, "Floor");
  add_math<Math::kCeil>(r, "Ceil");
  add_math<Math::kRound>(r, "Round");
  add_math<Math::kSin>(r, "Sin");
  add_math<Math::kCos>(r, "Cos");
  add_math<Math::kTan>(r, "Tan");
  add_math<Math::kAsin>(r, "Asin");
  add_math<Math::kAcos>(r, "Acos");
  add_math<Math::kAtan>(r, "Atan");
  add_math<Math::kSinh>(r, "Sinh");
  add_math<Math::kCosh>(r, "Cosh");
  add_math<Math::kAsinh>(r, "Asinh");
  add_math<Math::kAcosh>(r, "Acosh");
  add_math<Math::kAtanh>(r, "Atanh");
  add_math<Math::kErf>(r, "Erf");
  add_math<Math::kTanh>(r, "Tanh");
  add_math<Math::kSigmoid>(r, "Sigmoid");
  add_math<Math::kSoftplus>(r, "Softplus");
  add_math<Math::kSoftsign>(r, "Softsign");
  add_math<Math::kMish>(r, "Mish");
  add_math<Math::kHardSwish>(r, "HardSwish");
  r.add("Relu", make_kernel<UnaryKernel<ReluOp>>);
  r.add("Abs", make_kernel<UnaryKernel<AbsOp>>);
  r.add("Neg", make_kernel<UnaryKernel<NegOp>>);
  r.add("Sign", make_kernel<UnaryKernel<SignOp>>);
  r.add("Not", make_kernel<UnaryKernel<NotOp>>);
  r.add("BitwiseNot", make_kernel<UnaryKernel<BitwiseNotOp>>);
  r.add("LeakyRelu", make_kernel<UnaryKernel<LeakyReluOp>>);
  r.add("HardSigmoid", make_kernel<UnaryKernel<HardSigmoidOp>>);
  r.add("Gelu", make_kernel<UnaryKernel<GeluOp>>);
  r.add("Elu", make_kernel<UnaryKernel<EluOp>>);
  r.add("Selu", make_kernel<UnaryKernel<SeluOp>>);
  r.add("Celu", make_kernel<UnaryKernel<CeluOp>>);
  r.add("ThresholdedRelu", make_kernel<UnaryKernel<ThresholdedReluOp>>);
  r.add("IsNaN", make_kernel<PredicateKernel<false>>);
  r.add("IsInf", make_kernel<PredicateKernel<true>>);
  r.add("Clip", make_kernel<ClipKernel>);
}

}  // namespace kiln::cuda
