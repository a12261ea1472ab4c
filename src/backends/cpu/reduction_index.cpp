// CPU kernels of the reduction family that produce indices or run along one axis: ArgMax, ArgMin,
// TopK and the running reductions CumSum and CumProd.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel_helpers.hpp"
#include "ir/nan_minmax.hpp"

namespace kiln::cpu {
namespace {

int64_t norm_axis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

void arg_reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t axis = norm_axis(ctx.node.attrs.get_int("axis", 0), x.rank());
  bool last = ctx.node.attrs.get_int("select_last_index", 0) != 0;
  bool is_max = ctx.node.op == "ArgMax";
  AxisSplit v = split_at_axis(x.shape(), axis);
  int64_t* out = y.data<int64_t>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* p = in + o * v.len * v.inner + i;
        int64_t best = 0;
        auto bv = load(p[0]);
        for (int64_t k = 1; k < v.len; ++k) {
          auto c = load(p[k * v.inner]);
          // The first NaN wins either way, as in numpy (ONNX Runtime sees a NaN only when it is
          // the first element).
          bool better = is_max ? ir::greater_nan_first(c, bv) : ir::less_nan_first(c, bv);
          bool tie = c == bv || (c != c && bv != bv);
          if (better || (last && tie)) {
            best = k;
            bv = c;
          }
        }
        out[o * v.inner + i] = best;
      }
    }
  });
}

void topk_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t k = ctx.input(1).data<int64_t>()[0];
  int64_t axis = norm_axis(ctx.node.attrs.get_int("axis", -1), x.rank());
  bool largest = ctx.node.attrs.get_int("largest", 1) != 0;
  // sorted=0 leaves the order unspecified; sorted order is a valid answer, so always sort.
  Tensor& values = ctx.output(0);
  Tensor& indices = ctx.output(1);
  AxisSplit v = split_at_axis(x.shape(), axis);
  int64_t* idx_out = indices.data<int64_t>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* val_out = values.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(v.len));
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* p = in + o * v.len * v.inner + i;
        std::iota(order.begin(), order.end(), 0);
        // Ties go to the lower index, which makes the order total.
        auto before = [&](int64_t a, int64_t b) {
          auto va = load(p[a * v.inner]);
          auto vb = load(p[b * v.inner]);
          // NaN ranks above every number, as in numpy's sort order (and ONNX Runtime's TopK).
          if (largest ? ir::greater_nan_first(va, vb) : ir::greater_nan_first(vb, va)) return true;
          if (largest ? ir::greater_nan_first(vb, va) : ir::greater_nan_first(va, vb)) return false;
          return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          int64_t dst = o * k * v.inner + j * v.inner + i;
          val_out[dst] = p[order[static_cast<size_t>(j)] * v.inner];
          idx_out[dst] = order[static_cast<size_t>(j)];
        }
      }
    }
  });
}

void cumsum_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Tensor& a = ctx.input(1);
  int64_t raw = a.dtype() == DataType::kInt32 ? a.data<int32_t>()[0] : a.data<int64_t>()[0];
  int64_t axis = norm_axis(raw, x.rank());
  bool exclusive = ctx.node.attrs.get_int("exclusive", 0) != 0;
  bool reverse = ctx.node.attrs.get_int("reverse", 0) != 0;
  AxisSplit v = split_at_axis(x.shape(), axis);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      ctx.fail(ErrorCode::kUnsupported, "CumSum does not accept bool input");
    } else {
      using C = compute_t<T>;
      const T* in = x.data<T>();
      T* out = y.data<T>();
      for (int64_t o = 0; o < v.outer; ++o) {
        for (int64_t i = 0; i < v.inner; ++i) {
          int64_t base = o * v.len * v.inner + i;
          C acc{};
          for (int64_t s = 0; s < v.len; ++s) {
            int64_t k = reverse ? v.len - 1 - s : s;
            int64_t off = base + k * v.inner;
            C cur = load(in[off]);
            if (!exclusive) acc = static_cast<C>(acc + cur);
            out[off] = store<T>(acc);
            if (exclusive) acc = static_cast<C>(acc + cur);
          }
        }
      }
    }
  });
}

int64_t axis_input(const KernelContext& ctx, size_t i, int64_t rank) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1) ctx.fail(ErrorCode::kInvalidArgument, "axis must hold one value");
  int64_t axis = t.dtype() == DataType::kInt32 ? t.data<int32_t>()[0] : t.data<int64_t>()[0];
  if (axis < -rank || axis >= rank)
    ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

// Running product along an axis; each step rounds to T like the reference's numpy.cumprod.
void run_cumprod(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail(ErrorCode::kInvalidArgument, "x must have rank 1 or more");
  AxisSplit s = split_at_axis(x.shape(), axis_input(ctx, 1, x.rank()));
  const bool exclusive = ctx.node.attrs.get_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attrs.get_int("reverse", 0) != 0;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
    } else {
      const T* xp = x.data<T>();
      T* yp = ctx.output(0).data<T>();
#pragma omp parallel for collapse(2)
      for (int64_t o = 0; o < s.outer; ++o) {
        for (int64_t in = 0; in < s.inner; ++in) {
          T acc = store<T>(compute_t<T>(1));
          for (int64_t step = 0; step < s.len; ++step) {
            int64_t i = reverse ? s.len - 1 - step : step;
            int64_t at = (o * s.len + i) * s.inner + in;
            if (exclusive) {
              yp[at] = acc;
              acc = store<T>(static_cast<compute_t<T>>(load(acc) * load(xp[at])));
            } else {
              acc = store<T>(static_cast<compute_t<T>>(load(acc) * load(xp[at])));
              yp[at] = acc;
            }
          }
        }
      }
    }
  });
}

// Orders values like numpy's sort: NaN after everything, and equal to itself.
}  // namespace

void register_reduction_index_kernels(CpuKernelRegistry& r) {
  r.add("ArgMax", arg_reduce_kernel);
  r.add("ArgMin", arg_reduce_kernel);
  r.add("TopK", topk_kernel);
  r.add("CumSum", cumsum_kernel);
  r.add("CumProd", run_cumprod);
}

}  // namespace kiln::cpu
