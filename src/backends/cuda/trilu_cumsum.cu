// CUDA Trilu (keep the upper or lower triangle of the last two axes; k may be a runtime scalar,
// read on the device) and CumSum along one axis (a thread per column, in the compute type, as the
// CPU backend accumulates).
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/data_movement_family.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

template <typename E>
__global__ void trilu_kernel(const E* __restrict__ x, E* __restrict__ y, int64_t n, int64_t rows,
                             int64_t cols, const int64_t* k_ptr, bool upper) {
  const int64_t k = k_ptr ? *k_ptr : 0;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t c = i % cols, r = (i / cols) % rows;
    bool keep = upper ? c - r >= k : c - r <= k;
    y[i] = keep ? x[i] : E(0);  // zero bits are zero in every dtype
  }
}

class TriluKernel final : public CudaKernel {
 public:
  explicit TriluKernel(const ir::Node& node) : upper_(node.attrs.get_int("upper", 1) != 0) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& s = ctx.inputs[0].shape;
    if (s.size() < 2) ctx.fail(ErrorCode::kInvalidArgument, "input must have rank >= 2");
    rows_ = s[s.size() - 2];
    cols_ = s[s.size() - 1];
    if (ctx.node.input(1)) {
      if (ctx.inputs[1].dtype != DataType::kInt64) fail_dtype(ctx, 1, ctx.inputs[1].dtype);
      if (ctx.inputs[1].numel() != 1) {
        ctx.fail(ErrorCode::kInvalidArgument, "k must hold one value");
      }
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    int64_t n = x.numel();
    if (n == 0) return;
    const int64_t* k = ctx.has_input(1) ? ctx.inputs[1].as<const int64_t>() : nullptr;
    visit_element_size(element_size(x.dtype), [&](auto tag) {
      using E = decltype(tag);
      trilu_kernel<<<grid_for(n), kBlockSize, 0, ctx.stream>>>(
          x.as<const E>(), ctx.outputs[0].as<E>(), n, rows_, cols_, k, upper_);
      KILN_CUDA_CHECK(cudaGetLastError());
    });
  }

 private:
  bool upper_;
  int64_t rows_ = 1, cols_ = 1;
};

template <typename T>
__global__ void cumsum_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer,
                              int64_t len, int64_t inner, bool exclusive, bool reverse) {
  using C = compute_t<T>;
  int64_t columns = outer * inner;
  for (int64_t c = global_index(); c < columns; c += global_stride()) {
    int64_t base = (c / inner) * len * inner + c % inner;
    C acc{};
    for (int64_t s = 0; s < len; ++s) {
      int64_t off = base + (reverse ? len - 1 - s : s) * inner;
      C cur = load(x[off]);
      C next;
      if constexpr (is_int_v<C>) {
        next = wrap_add(acc, cur);
      } else {
        next = acc + cur;
      }
      if (!exclusive) acc = next;
      y[off] = store<T>(acc);
      if (exclusive) acc = next;
    }
  }
}

class CumSumKernel final : public CudaKernel {
 public:
  explicit CumSumKernel(const ir::Node& node)
      : exclusive_(node.attrs.get_int("exclusive", 0) != 0),
        reverse_(node.attrs.get_int("reverse", 0) != 0) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!is_numeric_v<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    const Tensor* a = ctx.constant_input(1);
    if (!a || a->numel() != 1) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs the axis input to be a constant");
    }
    auto rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = a->dtype() == DataType::kInt32 ? a->data<int32_t>()[0] : a->data<int64_t>()[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis out of range");
    outer_ = inner_ = 1;
    for (int64_t i = 0; i < axis; ++i) outer_ *= x.shape[i];
    len_ = x.shape[axis];
    for (int64_t i = axis + 1; i < rank; ++i) inner_ *= x.shape[i];
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    int64_t columns = outer_ * inner_;
    if (columns == 0 || len_ == 0) return;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_numeric_v<T>) {
        cumsum_kernel<<<grid_for(columns), kBlockSize, 0, ctx.stream>>>(
            x.as<const T>(), ctx.outputs[0].as<T>(), outer_, len_, inner_, exclusive_, reverse_);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  bool exclusive_, reverse_;
  int64_t outer_ = 1, len_ = 1, inner_ = 1;
};

}  // namespace

void register_trilu_cumsum_kernels(CudaKernelRegistry& r) {
  r.add("Trilu", make_kernel<TriluKernel>);
  r.add("CumSum", make_kernel<CumSumKernel>);
}

}  // namespace kiln::cuda
