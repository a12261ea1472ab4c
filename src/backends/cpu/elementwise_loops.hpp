// The loops every elementwise CPU kernel is built from: a flat unary map, and broadcasting maps
// over two or three operands. Float32 contiguous cases run as plain indexed loops the compiler
// vectorizes; large tensors are split across OpenMP threads.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "backends/cpu/dispatch.hpp"
#include "kiln/tensor.hpp"

namespace kiln::cpu {

// Below this many elements a loop runs on the calling thread: waking a team costs more.
constexpr int64_t kParallelMinElements = int64_t{1} << 15;

// Element-type families, matching the op table's type sets (fp8 is a storage-only type here).
template <typename T>
constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <typename T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
constexpr bool is_signed_int_v = is_int_v<T>&& std::is_signed_v<T>;
template <typename T>
constexpr bool is_numeric_v = is_float_v<T> || is_int_v<T>;
template <typename T>
constexpr bool is_signed_numeric_v = is_float_v<T> || is_signed_int_v<T>;

// y[i] = store(f(load(x[i]))).
template <typename In, typename Out, typename F>
void map_unary(const In* x, Out* y, int64_t n, const F& f) {
#pragma omp parallel for simd if (n >= kParallelMinElements)
  for (int64_t i = 0; i < n; ++i) y[i] = store<Out>(f(load(x[i])));
}

// How N operands broadcast to an output shape, reduced to rows: the output is `rows` rows of
// `inner` elements; along a row each operand advances by inner_stride (0 or 1), and row r starts
// at the offset its index in `outer_shape` gives with `outer_strides`. Size-1 dims are dropped
// and dims that are contiguous for every operand are merged, so a row is as long as possible.
struct BroadcastPlan {
  int64_t rows = 0;
  int64_t inner = 1;
  Shape outer_shape;
  std::vector<std::vector<int64_t>> outer_strides;  // [operand][dim]
  std::vector<int64_t> inner_stride;                // [operand]

  BroadcastPlan(const Shape& out, const std::vector<Shape>& operands);
};

// Calls row_fn(offsets, inner) for every row of `plan`, offsets being each operand's element
// offset at the row's start (pass the output as the last operand to get its offset too), with rows
// split across threads when the output is large.
template <size_t N, typename RowFn>
void for_each_row(const BroadcastPlan& plan, const RowFn& row_fn) {
  const int64_t rows = plan.rows;
  const auto dims = static_cast<int64_t>(plan.outer_shape.size());
  const bool parallel = rows > 1 && rows * plan.inner >= kParallelMinElements;
#pragma omp parallel if (parallel)
  {
    int threads = omp_get_num_threads();
    int me = omp_get_thread_num();
    int64_t begin = rows * me / threads;
    int64_t end = rows * (me + 1) / threads;
    if (begin < end) {
      // Decompose the first row's index, then advance it like an odometer.
      std::vector<int64_t> index(static_cast<size_t>(dims), 0);
      std::array<int64_t, N> offsets{};
      int64_t rem = begin;
      for (int64_t d = dims - 1; d >= 0; --d) {
        auto du = static_cast<size_t>(d);
        index[du] = rem % plan.outer_shape[du];
        rem /= plan.outer_shape[du];
        for (size_t k = 0; k < N; ++k) offsets[k] += index[du] * plan.outer_strides[k][du];
      }
      for (int64_t r = begin; r < end; ++r) {
        row_fn(offsets, plan.inner);
        for (int64_t d = dims - 1; d >= 0; --d) {
          auto du = static_cast<size_t>(d);
          if (++index[du] < plan.outer_shape[du]) {
            for (size_t k = 0; k < N; ++k) offsets[k] += plan.outer_strides[k][du];
            break;
          }
          for (size_t k = 0; k < N; ++k) {
            offsets[k] -= plan.outer_strides[k][du] * (plan.outer_shape[du] - 1);
          }
          index[du] = 0;
        }
      }
    }
  }
}

// One row of a binary map: o[i] = store(f(load(a[i*sa]), load(b[i*sb]))), with the stride pairs
// specialised so that each variant is a plain loop the compiler can vectorize.
template <typename A, typename B, typename Out, typename F>
void binary_row(const A* a, int64_t sa, const B* b, int64_t sb, Out* o, int64_t n, const F& f) {
  if (sa == 1 && sb == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = store<Out>(f(load(a[i]), load(b[i])));
  } else if (sa == 0 && sb == 1) {
    const auto av = load(a[0]);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = store<Out>(f(av, load(b[i])));
  } else if (sa == 1 && sb == 0) {
    const auto bv = load(b[0]);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) o[i] = store<Out>(f(load(a[i]), bv));
  } else {
    const auto v = store<Out>(f(load(a[0]), load(b[0])));
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  }
}

// out = f(a, b) with numpy broadcasting of a and b to out's shape.
template <typename A, typename B, typename Out, typename F>
void map_binary(const A* a, const Shape& a_shape, const B* b, const Shape& b_shape, Out* out,
                const Shape& out_shape, const F& f) {
  const int64_t n = shape_numel(out_shape);
  const int64_t na = shape_numel(a_shape);
  const int64_t nb = shape_numel(b_shape);
  if (n == 0) return;
  // Fast paths: equal sizes (hence equal shapes up to leading 1s), or a scalar operand.
  if ((na == n || na == 1) && (nb == n || nb == 1)) {
    const int64_t sa = na == n ? 1 : 0;
    const int64_t sb = nb == n ? 1 : 0;
    if (n < kParallelMinElements) {
      binary_row(a, sa, b, sb, out, n, f);
      return;
    }
#pragma omp parallel
    {
      int64_t begin = n * omp_get_thread_num() / omp_get_num_threads();
      int64_t end = n * (omp_get_thread_num() + 1) / omp_get_num_threads();
      binary_row(a + begin * sa, sa, b + begin * sb, sb, out + begin, end - begin, f);
    }
    return;
  }
  BroadcastPlan plan(out_shape, {a_shape, b_shape, out_shape});
  const int64_t sa = plan.inner_stride[0];
  const int64_t sb = plan.inner_stride[1];
  for_each_row<3>(plan, [&](const std::array<int64_t, 3>& off, int64_t inner) {
    binary_row(a + off[0], sa, b + off[1], sb, out + off[2], inner, f);
  });
}

}  // namespace kiln::cpu
