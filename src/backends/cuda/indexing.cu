// CUDA Gather, GatherElements and GatherND. Negative indices count from the end. Indices that are
// constants are checked at prepare time (a clear error naming the node); runtime indices out of
// range are clamped on the device, since a kernel cannot report an error without a host
// synchronisation. A Gather whose slices are at least 16 bytes (a row of an embedding table, the
// q/k/v split of a packed tensor by a scalar index) copies each slice with vector loads.
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/index_helpers.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/row_copy.cuh"

namespace kiln::cuda {
namespace {

// out[o][j][k] = data[o][idx[j]][k], for `inner` elements k.
template <typename E, typename I>
__global__ void gather_kernel(const E* __restrict__ data, const I* __restrict__ idx,
                              E* __restrict__ out, int64_t total, int64_t count, int64_t n,
                              int64_t inner) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t k = i % inner, rest = i / inner;
    int64_t j = rest % count, o = rest / count;
    out[i] = data[(o * n + resolve_index(idx[j], n)) * inner + k];
  }
}

// Row r of the output is slice idx[r % count] of outer block r / count; offsets in vectors.
template <typename I>
struct GatherRows {
  const I* idx;
  IntDivider count;
  int64_t n = 0, row_vectors = 0;
  __device__ __forceinline__ void operator()(uint32_t row, int64_t& so, int64_t& dof) const {
    const uint32_t o = count.div(row);
    const uint32_t j = row - o * count.divisor;
    so = (static_cast<int64_t>(o) * n + resolve_index(idx[j], n)) * row_vectors;
    dof = static_cast<int64_t>(row) * row_vectors;
  }
};

// Slices shorter than one 16-byte vector gain nothing from the row copy.
constexpr int64_t kMinRowBytes = 16;

void check_constant_indices(const CudaKernelContext& ctx, int64_t n) {
  for_each_constant_index(ctx, 1, [&](int64_t, int64_t v) { check_index_range(ctx, v, n); });
}

int64_t axis_of(const CudaKernelContext& ctx, int64_t rank) {
  int64_t axis = ctx.node.attrs.get_int("axis", 0);
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " out of range");
  return a;
}

class GatherKernel final : public CudaKernel {
 public:
  explicit GatherKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_index_dtype(ctx, 1);
    const Shape& data = ctx.inputs[0].shape;
    auto axis = static_cast<size_t>(axis_of(ctx, static_cast<int64_t>(data.size())));
    n_ = data[axis];
    inner_ = 1;
    for (size_t d = axis + 1; d < data.size(); ++d) inner_ *= data[d];
    count_ = ctx.inputs[1].numel();
    check_constant_indices(ctx, n_);
    if (n_ == 0 && ctx.outputs[0].numel() > 0) {
      ctx.fail(ErrorCode::kInvalidArgument, "cannot gather from an empty axis");
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t total = y.numel();
    if (total == 0) return;
    if (enqueue_rows(ctx)) return;
    visit_element_size(element_size(y.dtype), [&](auto etag) {
      using E = decltype(etag);
      visit_index(ctx.inputs[1].dtype, [&](auto itag) {
        using I = decltype(itag);
        gather_kernel<<<grid_for(total), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const E>(), ctx.inputs[1].as<const I>(), y.as<E>(), total, count_, n_,
            inner_);
        KILN_CUDA_CHECK(cudaGetLastError());
      });
    });
  }

 private:
  // The vectorised slice copy; false where it does not apply (short slices, or more rows than
  // its 31-bit index math takes).
  bool enqueue_rows(const CudaKernelContext& ctx) const {
    const DeviceTensor& y = ctx.outputs[0];
    const auto e = static_cast<uint64_t>(element_size(y.dtype));
    const uint64_t row_bytes = static_cast<uint64_t>(inner_) * e;
    if (row_bytes < kMinRowBytes || count_ == 0) return false;
    int v = vector_bytes({row_bytes, reinterpret_cast<uintptr_t>(ctx.inputs[0].data),
                          reinterpret_cast<uintptr_t>(y.data)});
    if (v < static_cast<int>(e)) return false;
    RowGrid g;
    const int64_t row_vectors = static_cast<int64_t>(row_bytes) / v;
    if (!plan_rows(y.numel() / inner_, row_vectors, g)) return false;
    visit_vector(v, [&](auto vtag) {
      using V = decltype(vtag);
      visit_index(ctx.inputs[1].dtype, [&](auto itag) {
        using I = decltype(itag);
        GatherRows<I> rows{ctx.inputs[1].as<const I>(), IntDivider(count_), n_, row_vectors};
        launch_row_copy<V>(ctx.inputs[0].data, y.data, g, rows, ctx.stream);
      });
    });
    return true;
  }

  int64_t n_ = 0, inner_ = 1, count_ = 0;
};

// out[i] = data[offset of i's coordinates with the axis coordinate replaced by idx[i]]. The
// layout walks the indices' shape: operand 0 gives the data offset without the axis term, operand
// 1 the indices' own offset.
template <typename E, typename I>
__global__ void gather_elements_kernel(const E* __restrict__ data, const I* __restrict__ idx,
                                       E* __restrict__ out, int64_t total, StridedLayout<2> l,
                                       int64_t n, int64_t axis_stride) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t off[2];
    strided_offsets(l, i, off);
    out[i] = data[off[0] + resolve_index(idx[off[1]], n) * axis_stride];
  }
}

class GatherElementsKernel final : public CudaKernel {
 public:
  explicit GatherElementsKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_index_dtype(ctx, 1);
    const Shape& data = ctx.inputs[0].shape;
    const Shape& idx = ctx.inputs[1].shape;
    auto axis = static_cast<size_t>(axis_of(ctx, static_cast<int64_t>(data.size())));
    if (idx.size() != data.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, "indices have rank ", idx.size(), ", data rank ",
               data.size());
    }
    std::vector<int64_t> strides = contiguous_strides(data);
    n_ = data[axis];
    axis_stride_ = strides[axis];
    strides[axis] = 0;
    layout_ = make_strided_layout<2>(idx, {strides, contiguous_strides(idx)});
    check_constant_indices(ctx, n_);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t total = y.numel();
    if (total == 0) return;
    visit_element_size(element_size(y.dtype), [&](auto etag) {
      using E = decltype(etag);
      visit_index(ctx.inputs[1].dtype, [&](auto itag) {
        using I = decltype(itag);
        gather_elements_kernel<<<grid_for(total), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const E>(), ctx.inputs[1].as<const I>(), y.as<E>(), total, layout_, n_,
            axis_stride_);
        KILN_CUDA_CHECK(cudaGetLastError());
      });
    });
  }

 private:
  StridedLayout<2> layout_;
  int64_t n_ = 0, axis_stride_ = 0;
};

// The data dims an index tuple addresses (batch_dims .. batch_dims + k): sizes and strides.
struct TupleDims {
  int k = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

// out[g][e] = data[batch(g)][tuple g][e]: g runs over batches x tuples, e over the slice the
// tuple leaves (the data dims after the indexed ones).
template <typename E, typename I>
__global__ void gather_nd_kernel(const E* __restrict__ data, const I* __restrict__ idx,
                                 E* __restrict__ out, int64_t total, int64_t slice, int64_t tuples,
                                 int64_t per_batch, TupleDims td) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t g = i / slice, e = i % slice;
    const I* tuple = idx + g * td.k;
    int64_t off = (g / tuples) * per_batch + e;
    for (int j = 0; j < td.k; ++j) off += resolve_index(tuple[j], td.sizes[j]) * td.strides[j];
    out[i] = data[off];
  }
}

class GatherNDKernel final : public CudaKernel {
 public:
  explicit GatherNDKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_index_dtype(ctx, 1);
    const Shape& ds = ctx.inputs[0].shape;
    const Shape& is = ctx.inputs[1].shape;
    int64_t b = ctx.node.attrs.get_int("batch_dims", 0);
    if (is.empty()) ctx.fail(ErrorCode::kInvalidArgument, "indices must have rank >= 1");
    int64_t k = is.back();
    auto rank = static_cast<int64_t>(ds.size());
    if (b < 0 || k < 0 || b + k > rank || b >= static_cast<int64_t>(is.size())) {
      ctx.fail(ErrorCode::kInvalidArgument, "batch_dims ", b, " with index tuples of length ", k,
               " do not fit data of rank ", rank, " and indices of rank ", is.size());
    }
    if (k > kMaxDims) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes index tuples of up to ", kMaxDims,
               " elements, not ", k);
    }
    std::vector<int64_t> strides = contiguous_strides(ds);
    auto ub = static_cast<size_t>(b);
    td_ = TupleDims{};
    td_.k = static_cast<int>(k);
    for (size_t j = 0; j < static_cast<size_t>(k); ++j) {
      td_.sizes[j] = ds[ub + j];
      td_.strides[j] = strides[ub + j];
    }
    slice_ = 1;
    for (size_t d = ub + static_cast<size_t>(k); d < ds.size(); ++d) slice_ *= ds[d];
    per_batch_ = 1;
    for (size_t d = ub; d < ds.size(); ++d) per_batch_ *= ds[d];
    tuples_ = 1;
    for (size_t d = ub; d + 1 < is.size(); ++d) tuples_ *= is[d];
    for_each_constant_index(ctx, 1, [&](int64_t n, int64_t v) {
      if (k > 0) check_index_range(ctx, v, td_.sizes[n % k]);
    });
    for (int j = 0; j < td_.k; ++j) {
      if (td_.sizes[j] == 0 && ctx.outputs[0].numel() > 0) {
        ctx.fail(ErrorCode::kInvalidArgument, "cannot gather from an empty axis");
      }
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t total = y.numel();
    if (total == 0 || slice_ == 0 || tuples_ == 0) return;
    visit_element_size(element_size(y.dtype), [&](auto etag) {
      using E = decltype(etag);
      visit_index(ctx.inputs[1].dtype, [&](auto itag) {
        using I = decltype(itag);
        gather_nd_kernel<<<grid_for(total), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const E>(), ctx.inputs[1].as<const I>(), y.as<E>(), total, slice_,
            tuples_, per_batch_, td_);
        KILN_CUDA_CHECK(cudaGetLastError());
      });
    });
  }

 private:
  TupleDims td_;
  int64_t slice_ = 1, tuples_ = 1, per_batch_ = 1;
};

}  // namespace

void register_indexing_kernels(CudaKernelRegistry& r) {
  r.add("Gather", make_kernel<GatherKernel>);
  r.add("GatherElements", make_kernel<GatherElementsKernel>);
  r.add("GatherND", make_kernel<GatherNDKernel>);
}

}  // namespace kiln::cuda
