// CUDA Gather and GatherElements. Negative indices count from the end. Indices that are constants
// are checked at prepare time (a clear error naming the node); runtime indices out of range are
// clamped on the device, since a kernel cannot report an error without a host synchronisation.
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/data_movement_family.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

template <typename I>
__device__ __forceinline__ int64_t resolve(I raw, int64_t n) {
  auto i = static_cast<int64_t>(raw);
  if (i < 0) i += n;
  return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// out[o][j][k] = data[o][idx[j]][k], for `inner` elements k.
template <typename E, typename I>
__global__ void gather_kernel(const E* __restrict__ data, const I* __restrict__ idx,
                              E* __restrict__ out, int64_t total, int64_t count, int64_t n,
                              int64_t inner) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t k = i % inner, rest = i / inner;
    int64_t j = rest % count, o = rest / count;
    out[i] = data[(o * n + resolve(idx[j], n)) * inner + k];
  }
}

void check_constant_indices(const CudaKernelContext& ctx, int64_t n) {
  const Tensor* t = ctx.constant_input(1);
  if (!t) return;
  for (int64_t k = 0; k < t->numel(); ++k) {
    int64_t v = t->dtype() == DataType::kInt32 ? t->data<int32_t>()[k] : t->data<int64_t>()[k];
    if (v < -n || v >= n) {
      ctx.fail(ErrorCode::kInvalidArgument, "index ", v, " is out of range for an axis of size ",
               n);
    }
  }
}

int64_t axis_of(const CudaKernelContext& ctx, int64_t rank) {
  int64_t axis = ctx.node.attrs.get_int("axis", 0);
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " out of range");
  return a;
}

void check_index_dtype(const CudaKernelContext& ctx) {
  DataType t = ctx.inputs[1].dtype;
  if (t != DataType::kInt32 && t != DataType::kInt64) fail_dtype(ctx, 1, t);
}

template <typename F>
void visit_index(DataType t, F&& f) {
  if (t == DataType::kInt32) {
    f(int32_t{});
  } else {
    f(int64_t{});
  }
}

class GatherKernel final : public CudaKernel {
 public:
  explicit GatherKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_index_dtype(ctx);
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
    out[i] = data[off[0] + resolve(idx[off[1]], n) * axis_stride];
  }
}

class GatherElementsKernel final : public CudaKernel {
 public:
  explicit GatherElementsKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_index_dtype(ctx);
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

}  // namespace

void register_gather_kernels(CudaKernelRegistry& r) {
  r.add("Gather", make_kernel<GatherKernel>);
  r.add("GatherElements", make_kernel<GatherElementsKernel>);
}

}  // namespace kiln::cuda
