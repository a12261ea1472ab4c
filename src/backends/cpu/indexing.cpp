// CPU kernels for the indexing family's index-driven ops: Gather, GatherElements, GatherND,
// ScatterElements, ScatterND, NonZero, OneHot. Every index is range-checked before it is used.
#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/shape_kernels.hpp"
#include "ir/nan_minmax.hpp"

namespace kiln::cpu {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction parse_reduction(const KernelContext& ctx) {
  std::string r = ctx.node.attrs.get_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  ctx.fail(ErrorCode::kInvalidArgument, "unknown reduction '", r, "'");
}

// The value a scatter leaves at an element holding `old` when `update` lands on it.
template <typename T>
T combine(Reduction r, T old, T update) {
  if (r == Reduction::kNone) return update;
  if constexpr (std::is_same_v<T, bool>) {
    // bool arithmetic: add is or, mul is and (as ONNX Runtime does).
    if (r == Reduction::kAdd || r == Reduction::kMax) return old || update;
    return old && update;
  } else {
    auto a = load(old), b = load(update);
    using C = decltype(a);
    switch (r) {
      case Reduction::kAdd:
        return store<T>(static_cast<C>(a + b));
      case Reduction::kMul:
        return store<T>(static_cast<C>(a * b));
      case Reduction::kMax:  // a NaN in the data or the update stays (ONNX Runtime drops the
                             // data's)
        return store<T>(ir::max_keep_nan(a, b));
      case Reduction::kMin:
        return store<T>(ir::min_keep_nan(a, b));
      case Reduction::kNone:
        break;
    }
    return update;
  }
}

int64_t axis_attr(const KernelContext& ctx, int64_t rank) {
  int64_t a = ctx.node.attrs.get_int("axis", 0);
  return a < 0 ? a + rank : a;
}

void gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  Tensor& out = ctx.output(0);
  auto axis = static_cast<size_t>(axis_attr(ctx, data.rank()));
  std::vector<int64_t> idx = read_indices(ctx, ctx.input(1));
  int64_t n = data.shape()[axis];
  for (int64_t& i : idx) i = resolve_index(ctx, i, n, static_cast<int64_t>(axis));
  int64_t outer = dims_product(data.shape(), 0, axis);
  size_t inner = static_cast<size_t>(dims_product(data.shape(), axis + 1, data.shape().size())) *
                 element_size(data.dtype());
  const auto* src = static_cast<const std::byte*>(data.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  if (!inner) return;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i : idx) {
      std::memcpy(dst, src + static_cast<size_t>(o * n + i) * inner, inner);
      dst += inner;
    }
  }
}

// GatherElements/ScatterElements: indices of the data's rank, each dim within the data's except
// along the axis, where the index values pick the element.
void check_element_indices(const KernelContext& ctx, const Shape& data, const Shape& idx,
                           size_t axis) {
  if (data.size() != idx.size())
    ctx.fail(ErrorCode::kInvalidArgument, "indices have rank ", idx.size(), ", data rank ",
             data.size());
  for (size_t d = 0; d < data.size(); ++d) {
    if (d != axis && idx[d] > data[d])
      ctx.fail(ErrorCode::kInvalidArgument, "indices shape ", shape_to_string(idx),
               " exceeds data shape ", shape_to_string(data), " on axis ", d);
  }
}

void gather_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  Tensor& out = ctx.output(0);
  auto axis = static_cast<size_t>(axis_attr(ctx, data.rank()));
  check_element_indices(ctx, data.shape(), indices.shape(), axis);
  std::vector<int64_t> idx = read_indices(ctx, indices);
  std::vector<int64_t> strides = contiguous_strides(data.shape());
  int64_t axis_stride = strides[axis];
  strides[axis] = 0;
  int64_t n = data.shape()[axis];
  visit_element_bytes(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = data.data<T>();
    T* dst = out.data<T>();
    size_t k = 0;
    for (StridedWalk w(indices.shape(), {strides}); !w.done(); w.next(), ++k) {
      int64_t i = resolve_index(ctx, idx[k], n, static_cast<int64_t>(axis));
      dst[k] = src[w.offset(0) + i * axis_stride];
    }
  });
}

void scatter_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  Tensor& out = ctx.output(0);
  auto axis = static_cast<size_t>(axis_attr(ctx, data.rank()));
  check_element_indices(ctx, data.shape(), indices.shape(), axis);
  if (updates.shape() != indices.shape())
    ctx.fail(ErrorCode::kInvalidArgument, "updates ", shape_to_string(updates.shape()),
             " and indices ", shape_to_string(indices.shape()), " must have the same shape");
  Reduction red = parse_reduction(ctx);
  std::vector<int64_t> idx = read_indices(ctx, indices);
  std::vector<int64_t> strides = contiguous_strides(data.shape());
  int64_t axis_stride = strides[axis];
  strides[axis] = 0;
  int64_t n = data.shape()[axis];
  if (data.nbytes()) std::memcpy(out.raw(), data.raw(), data.nbytes());
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* upd = updates.data<T>();
    T* dst = out.data<T>();
    size_t k = 0;
    for (StridedWalk w(indices.shape(), {strides}); !w.done(); w.next(), ++k) {
      int64_t i = resolve_index(ctx, idx[k], n, static_cast<int64_t>(axis));
      T& e = dst[w.offset(0) + i * axis_stride];
      e = combine(red, e, upd[k]);
    }
  });
}

// Element offset into data (from dim `first` on) of the index tuple idx[0..k).
int64_t tuple_offset(const KernelContext& ctx, const int64_t* tuple, int64_t k, const Shape& data,
                     const std::vector<int64_t>& strides, size_t first) {
  int64_t off = 0;
  for (int64_t j = 0; j < k; ++j) {
    size_t d = first + static_cast<size_t>(j);
    off += resolve_index(ctx, tuple[j], data[d], static_cast<int64_t>(d)) * strides[d];
  }
  return off;
}

void gather_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  Tensor& out = ctx.output(0);
  auto b = static_cast<size_t>(ctx.node.attrs.get_int("batch_dims", 0));
  const Shape& ds = data.shape();
  const Shape& is = indices.shape();
  int64_t k = is.back();
  std::vector<int64_t> idx = read_indices(ctx, indices);
  std::vector<int64_t> strides = contiguous_strides(ds);
  int64_t batches = dims_product(ds, 0, b);
  int64_t tuples = dims_product(is, b, is.size() - 1);
  int64_t per_batch = dims_product(ds, b, ds.size());
  size_t esize = element_size(data.dtype());
  size_t slice =
      static_cast<size_t>(dims_product(ds, b + static_cast<size_t>(k), ds.size())) * esize;
  const auto* src = static_cast<const std::byte*>(data.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t t = 0; t < tuples; ++t) {
      const int64_t* tuple = idx.data() + (bi * tuples + t) * k;
      int64_t off = bi * per_batch + tuple_offset(ctx, tuple, k, ds, strides, b);
      if (slice) std::memcpy(dst, src + static_cast<size_t>(off) * esize, slice);
      dst += slice;
    }
  }
}

void scatter_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  Tensor& out = ctx.output(0);
  const Shape& ds = data.shape();
  const Shape& is = indices.shape();
  int64_t k = is.back();
  int64_t tuples = dims_product(is, 0, is.size() - 1);
  int64_t slice = dims_product(ds, static_cast<size_t>(k), ds.size());
  if (updates.numel() != tuples * slice)
    ctx.fail(ErrorCode::kInvalidArgument, "updates have ", updates.numel(), " elements, expected ",
             tuples * slice);
  Reduction red = parse_reduction(ctx);
  std::vector<int64_t> idx = read_indices(ctx, indices);
  std::vector<int64_t> strides = contiguous_strides(ds);
  if (data.nbytes()) std::memcpy(out.raw(), data.raw(), data.nbytes());
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* upd = updates.data<T>();
    T* dst = out.data<T>();
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = tuple_offset(ctx, idx.data() + t * k, k, ds, strides, 0);
      for (int64_t e = 0; e < slice; ++e)
        dst[off + e] = combine(red, dst[off + e], upd[t * slice + e]);
    }
  });
}

void nonzero(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  std::vector<int64_t> hits;
  visit_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = in.data<T>();
    for (int64_t i = 0; i < in.numel(); ++i) {
      if (load(p[i]) != 0) hits.push_back(i);
    }
  });
  auto r = static_cast<size_t>(in.rank());
  auto n = static_cast<int64_t>(hits.size());
  Tensor& out = ctx.allocate_output(0, DataType::kInt64, {static_cast<int64_t>(r), n});
  int64_t* dst = out.data<int64_t>();
  std::vector<int64_t> strides = contiguous_strides(in.shape());
  for (int64_t j = 0; j < n; ++j) {
    int64_t flat = hits[static_cast<size_t>(j)];
    for (size_t d = 0; d < r; ++d) {
      dst[static_cast<int64_t>(d) * n + j] = flat / strides[d];
      flat %= strides[d];
    }
  }
}

void one_hot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& values = ctx.input(2);
  Tensor& out = ctx.output(0);
  int64_t axis_raw = ctx.node.attrs.get_int("axis", -1);
  auto axis = static_cast<size_t>(axis_raw < 0 ? axis_raw + indices.rank() + 1 : axis_raw);
  if (values.numel() != 2)
    ctx.fail(ErrorCode::kInvalidArgument, "values must hold [off, on], got ", values.numel(),
             " elements");
  int64_t depth = out.shape()[axis];
  std::vector<int64_t> idx(static_cast<size_t>(indices.numel()));
  visit_dtype(indices.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = indices.data<T>();
    for (size_t i = 0; i < idx.size(); ++i) {
      // Float indices truncate; NaN or huge ones are out of range (an all-off row), not UB.
      auto f = static_cast<double>(load(p[i]));
      idx[i] = f > -9.0e18 && f < 9.0e18 ? static_cast<int64_t>(f) : depth;
    }
  });
  int64_t outer = dims_product(indices.shape(), 0, axis);
  int64_t inner = dims_product(indices.shape(), axis, indices.shape().size());
  visit_element_bytes(values.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T off = values.data<T>()[0], on = values.data<T>()[1];
    T* dst = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t d = 0; d < depth; ++d)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t v = idx[static_cast<size_t>(o * inner + i)];
          if (v < 0) v += depth;  // out-of-range indices give an all-off row, as ONNX says
          *dst++ = v == d ? on : off;
        }
  });
}

}  // namespace

void register_indexing_kernels(CpuKernelRegistry& r) {
  r.add("Gather", gather);
  r.add("GatherElements", gather_elements);
  r.add("GatherND", gather_nd);
  r.add("ScatterElements", scatter_elements);
  r.add("Scatter", scatter_elements);
  r.add("ScatterND", scatter_nd);
  r.add("NonZero", nonzero);
  r.add("OneHot", one_hot);
}

}  // namespace kiln::cpu
