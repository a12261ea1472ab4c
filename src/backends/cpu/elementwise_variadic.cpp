// CPU kernels of the variadic broadcasting ops Sum, Mean, Max, Min, and of Where (a 3-way
// broadcast select).
#include <cstring>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"

namespace kiln::cpu {
namespace {

struct SumFn {
  template <typename T>
  static constexpr bool kAccepts = is_float_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    return x + y;
  }
};

// Max and Min propagate NaN, like numpy.maximum / numpy.minimum.
struct MaxFn {
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    return (x > y || x != x) ? x : y;
  }
};

struct MinFn {
  template <typename T>
  static constexpr bool kAccepts = is_numeric_v<T>;
  template <typename C>
  C operator()(C x, C y) const {
    return (x < y || x != x) ? x : y;
  }
};

// Folds every input into the output with Fn, broadcasting each to the output's shape. The running
// value is kept in the compute type, so fp16/bf16 round once, when stored; Mean divides the sum by
// the input count at the end.
template <typename Fn, bool kMean = false>
void variadic_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const size_t n_in = ctx.inputs.size();
  const Fn fn;
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (Fn::template kAccepts<T>) {
      using C = compute_t<T>;
      const Shape& shape = out.shape();
      const int64_t n = out.numel();
      // Accumulate straight into the output when it already holds the compute type.
      std::vector<C> scratch;
      C* acc;
      if constexpr (std::is_same_v<C, T>) {
        acc = out.data<T>();
      } else {
        scratch.resize(static_cast<size_t>(n));
        acc = scratch.data();
      }
      const Tensor& first = ctx.input(0);
      if (n_in == 1) {
        map_unary(first.data<T>(), acc, n, [](C x) { return x; });
      } else {
        const Tensor& second = ctx.input(1);
        map_binary(first.data<T>(), first.shape(), second.data<T>(), second.shape(), acc, shape,
                   fn);
      }
      for (size_t i = 2; i < n_in; ++i) {
        const Tensor& in = ctx.input(i);
        map_binary(acc, shape, in.data<T>(), in.shape(), acc, shape, fn);
      }
      if constexpr (kMean) {
        const C count = static_cast<C>(n_in);
        map_unary(acc, out.data<T>(), n, [count](C x) { return x / count; });
      } else if constexpr (!std::is_same_v<C, T>) {
        map_unary(acc, out.data<T>(), n, [](C x) { return x; });
      }
    } else {
      fail_dtype(ctx, 0, out.dtype());
    }
  });
}

// Where(cond, x, y) copies elements, so it works on raw storage of the element's size and serves
// every type, fp8 included.
template <typename Bits>
void where_rows(const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  const bool* c = cond.data<bool>();
  const auto* xp = static_cast<const Bits*>(x.raw());
  const auto* yp = static_cast<const Bits*>(y.raw());
  auto* op = static_cast<Bits*>(out.raw());
  BroadcastPlan plan(out.shape(), {cond.shape(), x.shape(), y.shape(), out.shape()});
  const int64_t sc = plan.inner_stride[0];
  const int64_t sx = plan.inner_stride[1];
  const int64_t sy = plan.inner_stride[2];
  for_each_row<4>(plan, [&](const std::array<int64_t, 4>& off, int64_t inner) {
    const bool* cr = c + off[0];
    const Bits* xr = xp + off[1];
    const Bits* yr = yp + off[2];
    Bits* orow = op + off[3];
    if (sc == 1 && sx == 1 && sy == 1) {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) orow[i] = cr[i] ? xr[i] : yr[i];
    } else {
      for (int64_t i = 0; i < inner; ++i) orow[i] = cr[i * sc] ? xr[i * sx] : yr[i * sy];
    }
  });
}

void where_kernel(KernelContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  Tensor& out = ctx.output(0);
  if (out.numel() == 0) return;
  switch (element_size(out.dtype())) {
    case 1:
      return where_rows<uint8_t>(cond, x, y, out);
    case 2:
      return where_rows<uint16_t>(cond, x, y, out);
    case 4:
      return where_rows<uint32_t>(cond, x, y, out);
    case 8:
      return where_rows<uint64_t>(cond, x, y, out);
    default:
      fail_dtype(ctx, 1, out.dtype());
  }
}

}  // namespace

void register_elementwise_variadic_kernels(CpuKernelRegistry& r) {
  r.add("Sum", variadic_kernel<SumFn>);
  r.add("Mean", variadic_kernel<SumFn, true>);
  r.add("Max", variadic_kernel<MaxFn>);
  r.add("Min", variadic_kernel<MinFn>);
  r.add("Where", where_kernel);
}

}  // namespace kiln::cpu
