// Pieces shared by the elementwise family's kernel files (elementwise*.cpp): integer helpers, the
// dtype error, and the generic kernel that runs one unary functor over any accepted type.
#pragma once

#include <cmath>
#include <limits>
#include <string_view>

#include "backends/cpu/elementwise_loops.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/integer_math.hpp"
#include "ir/make_op.hpp"

namespace kiln::cpu {

// Shared with the CUDA backend (ir/integer_math.hpp).
using ir::float_to_int;
using ir::int_pow;
using ir::wide_unsigned_t;
using ir::wrap_add;
using ir::wrap_mul;
using ir::wrap_sub;

template <typename T>
T wrap_neg(T a) {
  return wrap_sub(T{0}, a);
}

[[noreturn]] inline void fail_dtype(const KernelContext& ctx, size_t input, DataType t) {
  ctx.fail(ErrorCode::kUnsupported, "the CPU kernel of ", ctx.node.op, " does not accept input ",
           input, " of type ", to_string(t));
}

using ir::make_op;

// Applies kFn (a generic lambda over float or double) to the floating types.
template <auto kFn>
struct FloatUnary {
  template <typename T>
  static constexpr bool kAccepts = is_float_v<T>;
  template <typename C>
  C operator()(C x) const {
    return kFn(x);
  }
};

// Runs Op over input 0 into output 0 (same type). Op declares the types it takes with
// `template <typename T> static constexpr bool kAccepts`, and computes `C operator()(C x)` in the
// compute type of the element (float for fp16/bf16, which are rounded once on store).
template <typename Op>
void unary_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Op op = make_op<Op>(ctx.node);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (Op::template kAccepts<T>) {
      map_unary(x.data<T>(), y.data<T>(), x.numel(), op);
    } else {
      fail_dtype(ctx, 0, x.dtype());
    }
  });
}

}  // namespace kiln::cpu
