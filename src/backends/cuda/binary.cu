// CUDA kernels of the broadcasting binary ops: arithmetic (integers wrap; integer divide/modulo by
// zero give 0), Mod, Pow with mixed base/exponent types, bit shifts, bitwise and logical ops,
// comparisons, and PRelu. Semantics follow the CPU backend op for op.
#include "backends/cuda/elementwise_family.hpp"
#include "backends/cuda/elementwise_map.cuh"
#include "backends/cuda/kernel_factory.hpp"

namespace kiln::cuda {
namespace {

enum class Arith { kAdd, kSub, kMul, kDiv };

template <Arith kKind>
struct ArithOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if constexpr (kKind == Arith::kAdd) return wrap_add(x, y);
      if constexpr (kKind == Arith::kSub) return wrap_sub(x, y);
      if constexpr (kKind == Arith::kMul) return wrap_mul(x, y);
      if constexpr (kKind == Arith::kDiv) {
        if (y == 0) return C(0);
        if constexpr (std::is_signed_v<C>) {
          if (y == C(-1)) return wrap_sub(C(0), x);  // INT_MIN / -1 would trap
        }
        return static_cast<C>(x / y);
      }
    } else {
      if constexpr (kKind == Arith::kAdd) return x + y;
      if constexpr (kKind == Arith::kSub) return x - y;
      if constexpr (kKind == Arith::kMul) return x * y;
      if constexpr (kKind == Arith::kDiv) return x / y;
    }
  }
};

// fmod=1 takes the dividend's sign; fmod=0 the divisor's (numpy's mod).
struct ModOp {
  bool c_style;
  static ModOp make(const ir::Node& n) { return {n.attrs.get_int("fmod", 0) != 0}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if (y == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (y == C(-1)) return C(0);
      }
      auto r = static_cast<C>(x % y);
      if constexpr (std::is_signed_v<C>) {
        if (!c_style && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      }
      return r;
    } else {
      C r = fmod(x, y);
      if (c_style) return r;
      if (r != C(0)) {
        if ((y < C(0)) != (r < C(0))) r += y;
      } else {
        r = copysign(C(0), y);
      }
      return r;
    }
  }
};

struct BitShiftOp {
  bool left;
  static BitShiftOp make(const ir::Node& n) { return {n.attrs.get_string("direction") == "LEFT"}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_int_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C s) const {
    using U = std::make_unsigned_t<C>;
    using W = wide_unsigned_t<C>;
    const auto shift = static_cast<U>(s);
    constexpr U kBits = sizeof(C) * 8;
    if (left) return shift >= kBits ? C(0) : static_cast<C>(static_cast<W>(x) << shift);
    if (shift >= kBits) return (std::is_signed_v<C> && x < 0) ? static_cast<C>(-1) : C(0);
    return static_cast<C>(x >> shift);
  }
};

enum class Bits { kAnd, kOr, kXor };

template <Bits kKind, bool kLogical>
struct BitOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return kLogical ? std::is_same_v<T, bool> : is_int_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (kKind == Bits::kAnd) return static_cast<C>(x & y);
    if constexpr (kKind == Bits::kOr) return static_cast<C>(x | y);
    if constexpr (kKind == Bits::kXor) return static_cast<C>(x ^ y);
  }
};

enum class Cmp { kEq, kLt, kGt, kLe, kGe };

template <Cmp kKind>
struct CompareOp {
  static constexpr bool kCompare = true;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T> || (kKind == Cmp::kEq && std::is_same_v<T, bool>);
  }
  template <typename C>
  __device__ __forceinline__ bool operator()(C x, C y) const {
    if constexpr (kKind == Cmp::kEq) return x == y;
    if constexpr (kKind == Cmp::kLt) return x < y;
    if constexpr (kKind == Cmp::kGt) return x > y;
    if constexpr (kKind == Cmp::kLe) return x <= y;
    if constexpr (kKind == Cmp::kGe) return x >= y;
  }
};

// PRelu(x, slope): slope broadcasts to x.
struct PReluOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C v, C s) const {
    if constexpr (is_int_v<C>) {
      return v < C(0) ? wrap_mul(s, v) : v;
    } else {
      return v < C(0) ? s * v : v;
    }
  }
};

template <typename Op>
Op make_op(const ir::Node& node) {
  if constexpr (requires { Op::make(node); }) {
    return Op::make(node);
  } else {
    return Op{};
  }
}

// Runs Op over inputs 0 and 1 (one type T) into output 0 (bool for comparisons, else T).
template <typename Op>
class BinaryKernel final : public CudaKernel {
 public:
  explicit BinaryKernel(const ir::Node& node) : op_(make_op<Op>(node)) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      if constexpr (!Op::template accepts<decltype(tag)>()) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    });
    plan_ = plan_binary(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.outputs[0].shape);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs[0];
    const DeviceTensor& b = ctx.inputs[1];
    const DeviceTensor& y = ctx.outputs[0];
    visit_device_dtype(a.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (Op::template accepts<T>()) {
        using Out = std::conditional_t<Op::kCompare, bool, T>;
        launch_binary_map(plan_, a.as<const T>(), b.as<const T>(), y.as<Out>(), y.numel(), op_,
                          ctx.stream);
      }
    });
  }

 private:
  Op op_;
  BinaryPlan plan_;
};

// Integer power by squaring, wrapping; negative exponents give the truncated reciprocal.
template <typename B, typename E>
__device__ B int_pow(B base, E e) {
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

// Pow(base, exponent) in the base's type; floats compute in float when both are float or
// narrower, else in double (numpy's promotion).
struct PowOp {
  template <typename CA, typename CB>
  __device__ __forceinline__ CA operator()(CA x, CB e) const {
    if constexpr (is_int_v<CA> && is_int_v<CB>) {
      return int_pow(x, e);
    } else if constexpr (is_int_v<CA>) {
      return float_to_int<CA>(pow(static_cast<double>(x), static_cast<double>(e)));
    } else {
      using P =
          std::conditional_t<std::is_same_v<CA, float> && std::is_same_v<CB, float>, float, double>;
      return static_cast<CA>(pow(static_cast<P>(x), static_cast<P>(e)));
    }
  }
};

// Pow instantiates base x exponent type pairs, so it takes the types models use.
template <typename T>
constexpr bool kPowType = is_float_v<T> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;

class PowKernel final : public CudaKernel {
 public:
  explicit PowKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    for (size_t i = 0; i < 2; ++i) {
      visit_device_dtype(ctx.inputs[i].dtype, [&](auto tag) {
        if constexpr (!kPowType<decltype(tag)>) fail_dtype(ctx, i, ctx.inputs[i].dtype);
      });
    }
    plan_ = plan_binary(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.outputs[0].shape);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs[0];
    const DeviceTensor& b = ctx.inputs[1];
    const DeviceTensor& y = ctx.outputs[0];
    visit_device_dtype(a.dtype, [&](auto base_tag) {
      using A = decltype(base_tag);
      if constexpr (kPowType<A>) {
        visit_device_dtype(b.dtype, [&](auto exp_tag) {
          using B = decltype(exp_tag);
          if constexpr (kPowType<B>) {
            launch_binary_map(plan_, a.as<const A>(), b.as<const B>(), y.as<A>(), y.numel(),
                              PowOp{}, ctx.stream);
          }
        });
      }
    });
  }

 private:
  BinaryPlan plan_;
};

template <typename Op>
void add(CudaKernelRegistry& r, const char* name) {
  r.add(name, make_kernel<BinaryKernel<Op>>);
}

}  // namespace

void register_binary_kernels(CudaKernelRegistry& r) {
  add<ArithOp<Arith::kAdd>>(r, "Add");
  add<ArithOp<Arith::kSub>>(r, "Sub");
  add<ArithOp<Arith::kMul>>(r, "Mul");
  add<ArithOp<Arith::kDiv>>(r, "Div");
  add<ModOp>(r, "Mod");
  add<BitShiftOp>(r, "BitShift");
  add<BitOp<Bits::kAnd, false>>(r, "BitwiseAnd");
  add<BitOp<Bits::kOr, false>>(r, "BitwiseOr");
  add<BitOp<Bits::kXor, false>>(r, "BitwiseXor");
  add<BitOp<Bits::kAnd, true>>(r, "And");
  add<BitOp<Bits::kOr, true>>(r, "Or");
  add<BitOp<Bits::kXor, true>>(r, "Xor");
  add<CompareOp<Cmp::kEq>>(r, "Equal");
  add<CompareOp<Cmp::kLt>>(r, "Less");
  add<CompareOp<Cmp::kGt>>(r, "Greater");
  add<CompareOp<Cmp::kLe>>(r, "LessOrEqual");
  add<CompareOp<Cmp::kGe>>(r, "GreaterOrEqual");
  add<PReluOp>(r, "PRelu");
  r.add("Pow", make_kernel<PowKernel>);
}

}  // namespace kiln::cuda
