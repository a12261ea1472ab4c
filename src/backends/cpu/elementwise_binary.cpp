// CPU kernels of the broadcasting binary ops: arithmetic (integers wrap, and divide/modulo by zero
// give 0 instead of trapping), Pow with mixed base/exponent types, Mod, bit shifts, bitwise and
// logical ops, and comparisons.
#include <cmath>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"

namespace kiln::cpu {
namespace {

// Runs Op over inputs 0 and 1 (one type T) into output 0, whose type is bool when Op::kCompare
// and T otherwise.
template <typename Op>
void binary_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  const Op op = make_op<Op>(ctx.node);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (Op::template kAccepts<T>) {
      using C = compute_t<T>;
      using Out = std::conditional_t<Op::kCompare, bool, T>;
      map_binary(a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<Out>(), out.shape(),
                 [op](C x, C y) { return op(x, y); });
    } else {
      fail_dtype(ctx, 0, a.dtype());
    }
  });
}

struct AddOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (is_int_v<C>)
      return wrap_add(x, y);
    else
      return x + y;
  }
};

struct SubOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (is_int_v<C>)
      return wrap_sub(x, y);
    else
      return x - y;
  }
};

struct MulOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (is_int_v<C>)
      return wrap_mul(x, y);
    else
      return x * y;
  }
};

// Integer division truncates toward zero, like C.
struct DivOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if (y == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (y == C(-1)) return wrap_neg(x);  // INT_MIN / -1 would trap
      }
      return static_cast<C>(x / y);
    } else {
      return x / y;
    }
  }
};

// Mod: fmod=1 takes the dividend's sign (C fmod and %); fmod=0 takes the divisor's (Python's and
// numpy's mod). Integer modulo by zero gives 0.
struct ModOp {
  bool c_style;
  static ModOp make(const ir::Node& n) { return {n.attrs.get_int("fmod", 0) != 0}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if (y == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (y == C(-1)) return C(0);  // INT_MIN % -1 would trap
      }
      auto r = static_cast<C>(x % y);
      if constexpr (std::is_signed_v<C>) {
        if (!c_style && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      }
      return r;
    } else {
      C r = std::fmod(x, y);
      if (c_style) return r;
      // numpy's npy_divmod: shift a remainder of the wrong sign by one divisor; a zero remainder
      // takes the divisor's sign.
      if (r != C(0)) {
        if ((y < C(0)) != (r < C(0))) r += y;
      } else {
        r = std::copysign(C(0), y);
      }
      return r;
    }
  }
};

// BitShift: the shift amount counts as unsigned, so a negative one is a shift past the width,
// which gives 0 (or -1 for a right shift of a negative value). Left shifts wrap; right shifts of
// signed values are arithmetic.
struct BitShiftOp {
  bool left;
  static BitShiftOp make(const ir::Node& n) { return {n.attrs.get_string("direction") == "LEFT"}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = is_int_v<T>;
  template <typename C>
  C operator()(C x, C s) const {
    using U = std::make_unsigned_t<C>;
    using W = wide_unsigned_t<C>;
    const auto shift = static_cast<U>(s);
    constexpr U kBits = sizeof(C) * 8;
    if (left) return shift >= kBits ? C(0) : static_cast<C>(static_cast<W>(x) << shift);
    if (shift >= kBits) return (std::is_signed_v<C> && x < 0) ? static_cast<C>(-1) : C(0);
    return static_cast<C>(x >> shift);
  }
};

template <typename Fn, bool kIntOnly>
struct BitOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool kAccepts = kIntOnly ? is_int_v<T> : std::is_same_v<T, bool>;
  template <typename C>
  C operator()(C x, C y) const {
    return static_cast<C>(Fn{}(x, y));
  }
};

template <typename Fn, bool kWithBool>
struct CompareOp {
  static constexpr bool kCompare = true;
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T> || (kWithBool && std::is_same_v<T, bool>);
  template <typename C>
  bool operator()(C x, C y) const {
    return Fn{}(x, y);
  }
};

// Pow(base, exponent): the output has the base's type. Floats compute in float when both operands
// are float (or narrower), else in double, as numpy's type promotion does.
void pow_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  visit_dtype(a.dtype(), [&](auto base_tag) {
    using A = decltype(base_tag);
    if constexpr (is_numeric_v<A>) {
      visit_dtype(b.dtype(), [&](auto exp_tag) {
        using B = decltype(exp_tag);
        if constexpr (is_numeric_v<B>) {
          using CA = compute_t<A>;
          using CB = compute_t<B>;
          auto fn = [](CA x, CB e) -> CA {
            if constexpr (is_int_v<CA> && is_int_v<CB>) {
              return int_pow(x, e);
            } else if constexpr (is_int_v<CA>) {
              return float_to_int<CA>(std::pow(static_cast<double>(x), static_cast<double>(e)));
            } else {
              using P = std::conditional_t<std::is_same_v<CA, float> && std::is_same_v<CB, float>,
                                           float, double>;
              return static_cast<CA>(std::pow(static_cast<P>(x), static_cast<P>(e)));
            }
          };
          map_binary(a.data<A>(), a.shape(), b.data<B>(), b.shape(), out.data<A>(), out.shape(),
                     fn);
        } else {
          fail_dtype(ctx, 1, b.dtype());
        }
      });
    } else {
      fail_dtype(ctx, 0, a.dtype());
    }
  });
}

}  // namespace

void register_elementwise_binary_kernels(CpuKernelRegistry& r) {
  r.add("Add", binary_kernel<AddOp>);
  r.add("Sub", binary_kernel<SubOp>);
  r.add("Mul", binary_kernel<MulOp>);
  r.add("Div", binary_kernel<DivOp>);
  r.add("Mod", binary_kernel<ModOp>);
  r.add("Pow", pow_kernel);
  r.add("BitShift", binary_kernel<BitShiftOp>);
  r.add("BitwiseAnd", binary_kernel<BitOp<std::bit_and<>, true>>);
  r.add("BitwiseOr", binary_kernel<BitOp<std::bit_or<>, true>>);
  r.add("BitwiseXor", binary_kernel<BitOp<std::bit_xor<>, true>>);
  r.add("And", binary_kernel<BitOp<std::logical_and<>, false>>);
  r.add("Or", binary_kernel<BitOp<std::logical_or<>, false>>);
  r.add("Xor", binary_kernel<BitOp<std::not_equal_to<>, false>>);
  r.add("Equal", binary_kernel<CompareOp<std::equal_to<>, true>>);
  r.add("Less", binary_kernel<CompareOp<std::less<>, false>>);
  r.add("Greater", binary_kernel<CompareOp<std::greater<>, false>>);
  r.add("LessOrEqual", binary_kernel<CompareOp<std::less_equal<>, false>>);
  r.add("GreaterOrEqual", binary_kernel<CompareOp<std::greater_equal<>, false>>);
}

}  // namespace kiln::cpu
