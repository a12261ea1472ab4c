// CUDA CumSum of the reduction family: a running sum along one axis (a thread per column, in the
// compute type, as the CPU backend accumulates).
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

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

void register_reduction_cumsum_kernels(CudaKernelRegistry& r) {
  r.add("CumSum", make_kernel<CumSumKernel>);
}

}  // namespace kiln::cuda
