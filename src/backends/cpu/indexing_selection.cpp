// CPU kernels of the indexing family's selecting ops: Unique (sorted like numpy.unique or in
// first-occurrence order, whole tensor or slices along an axis), Compress and ReverseSequence.
// Unique and Compress allocate their data-dependent outputs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel_helpers.hpp"
#include "backends/cpu/values_as_double.hpp"

namespace kiln::cpu {
namespace {

template <typename C>
int compare_values(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  }
  return a < b ? -1 : (b < a ? 1 : 0);
}

void run_unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool has_axis = ctx.node.attrs.has("axis");
  const bool sorted = ctx.node.attrs.get_int("sorted", 1) != 0;
  int64_t axis = 0;
  AxisSplit s{1, x.numel(), 1};
  if (has_axis) {
    axis = ctx.node.attrs.get_int("axis");
    if (axis < 0) axis += x.rank();
    s = split_at_axis(x.shape(), axis);
  }
  const int64_t n = s.len;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    const T* xp = x.data<T>();
    // Item i is the slice x[..., i, ...] along the axis (a single element without one).
    auto cmp_items = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t in = 0; in < s.inner; ++in) {
          int c = compare_values<C>(load(xp[(o * n + a) * s.inner + in]),
                                    load(xp[(o * n + b) * s.inner + in]));
          if (c != 0) return c;
        }
      return 0;
    };
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return cmp_items(a, b) < 0; });
    // Groups of equal items in sorted order; each group's first item is its first occurrence.
    std::vector<int64_t> first, counts, group_of(static_cast<size_t>(n));
    for (size_t k = 0; k < order.size(); ++k) {
      if (k == 0 || cmp_items(order[k - 1], order[k]) != 0) {
        first.push_back(order[k]);
        counts.push_back(0);
      }
      ++counts.back();
      group_of[static_cast<size_t>(order[k])] = static_cast<int64_t>(first.size()) - 1;
    }
    // Output position of each group: sorted order, or order of first occurrence.
    std::vector<int64_t> rank_of(first.size());
    std::iota(rank_of.begin(), rank_of.end(), 0);
    if (!sorted) {
      std::vector<int64_t> by_first(first.size());
      std::iota(by_first.begin(), by_first.end(), 0);
      std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) {
        return first[static_cast<size_t>(a)] < first[static_cast<size_t>(b)];
      });
      for (size_t k = 0; k < by_first.size(); ++k)
        rank_of[static_cast<size_t>(by_first[k])] = static_cast<int64_t>(k);
    }
    const auto k = static_cast<int64_t>(first.size());
    std::vector<int64_t> out_first(first.size()), out_counts(first.size());
    for (size_t g = 0; g < first.size(); ++g) {
      out_first[static_cast<size_t>(rank_of[g])] = first[g];
      out_counts[static_cast<size_t>(rank_of[g])] = counts[g];
    }
    Shape y_shape{k};
    if (has_axis) {
      y_shape = x.shape();
      y_shape[static_cast<size_t>(axis)] = k;
    }
    Tensor& y = ctx.allocate_output(0, x.dtype(), y_shape);
    T* yp = y.data<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t g = 0; g < k; ++g)
        std::copy_n(xp + (o * n + out_first[static_cast<size_t>(g)]) * s.inner, s.inner,
                    yp + (o * k + g) * s.inner);
    if (ctx.has_output(1))
      std::copy(out_first.begin(), out_first.end(),
                ctx.allocate_output(1, DataType::kInt64, {k}).template data<int64_t>());
    if (ctx.has_output(2)) {
      int64_t* inv = ctx.allocate_output(2, DataType::kInt64, {n}).template data<int64_t>();
      for (int64_t i = 0; i < n; ++i)
        inv[i] = rank_of[static_cast<size_t>(group_of[static_cast<size_t>(i)])];
    }
    if (ctx.has_output(3))
      std::copy(out_counts.begin(), out_counts.end(),
                ctx.allocate_output(3, DataType::kInt64, {k}).template data<int64_t>());
  });
}

void run_compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  const bool has_axis = ctx.node.attrs.has("axis");
  AxisSplit s{1, x.numel(), 1};
  int64_t axis = 0;
  if (has_axis) {
    axis = ctx.node.attrs.get_int("axis");
    if (axis < 0) axis += x.rank();
    s = split_at_axis(x.shape(), axis);
  }
  if (cond.numel() > s.len)
    ctx.fail(ErrorCode::kInvalidArgument, "condition has ", cond.numel(),
             " values but the selected axis has ", s.len);
  const bool* c = cond.data<bool>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (c[i]) keep.push_back(i);
  }
  const auto k = static_cast<int64_t>(keep.size());
  Shape shape{k};
  if (has_axis) {
    shape = x.shape();
    shape[static_cast<size_t>(axis)] = k;
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), shape);
  const size_t row = static_cast<size_t>(s.inner) * element_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(dst + static_cast<size_t>(o * k + j) * row,
                  src + static_cast<size_t>(o * s.len + keep[static_cast<size_t>(j)]) * row, row);
}

// Reverses the first sequence_lens[b] steps of each batch entry along the time axis.
void run_reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& lens = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int64_t batch_axis = ctx.node.attrs.get_int("batch_axis", 1);
  const int64_t time_axis = ctx.node.attrs.get_int("time_axis", 0);
  const int64_t batch = x.dim(batch_axis), time = x.dim(time_axis);
  if (lens.numel() != batch)
    ctx.fail(ErrorCode::kInvalidArgument, "sequence_lens has ", lens.numel(),
             " values; the batch axis has ", batch);
  const int64_t* lp = lens.data<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    if (lp[b] < 0 || lp[b] > time)
      ctx.fail(ErrorCode::kInvalidArgument, "sequence_lens[", b, "] = ", lp[b], " is outside [0, ",
               time, "]");
  }
  int64_t inner = 1;
  for (int64_t k = 2; k < x.rank(); ++k) inner *= x.dim(k);
  const size_t row = static_cast<size_t>(inner) * element_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  // The first two axes are batch and time in some order; the rest is `inner`.
  auto offset = [&](int64_t b, int64_t t) {
    return static_cast<size_t>(time_axis == 0 ? t * batch + b : b * time + t) * row;
  };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < time; ++t) {
      int64_t from = t < lp[b] ? lp[b] - 1 - t : t;
      std::memcpy(dst + offset(b, t), src + offset(b, from), row);
    }
}

}  // namespace

void register_indexing_selection_kernels(CpuKernelRegistry& r) {
  r.add("Unique", run_unique);
  r.add("Compress", run_compress);
  r.add("ReverseSequence", run_reverse_sequence);
}

}  // namespace kiln::cpu
