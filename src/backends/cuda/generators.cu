// CUDA kernels of the generators family: ConstantOfShape fills; Range computes start + i * delta
// from its (device) scalar inputs; Trilu keeps the upper or lower triangle of the last two axes (k
// may be a runtime scalar, read on the device).
#include <algorithm>
#include <cstring>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/fill.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

class ConstantOfShapeKernel final : public CudaKernel {
 public:
  explicit ConstantOfShapeKernel(const ir::Node& node) {
    if (node.attrs.has("value")) {
      const Tensor& v = node.attrs.get_tensor("value");
      std::memcpy(&value_, v.raw(), std::min<size_t>(v.nbytes(), sizeof value_));
    }
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    launch_fill(y.data, y.numel(), element_size(y.dtype), value_, ctx.stream);
  }

 private:
  uint64_t value_ = 0;  // zeros when the attribute is absent
};

template <typename T>
__global__ void range_kernel(const T* start, const T* delta, T* __restrict__ y, int64_t n) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    if constexpr (std::is_integral_v<T>) {
      y[i] = static_cast<T>(static_cast<uint64_t>(*start) +
                            static_cast<uint64_t>(i) * static_cast<uint64_t>(*delta));
    } else {
      using C = compute_t<T>;
      y[i] = store<T>(static_cast<C>(load(*start) + static_cast<C>(i) * load(*delta)));
    }
  }
}

template <typename T>
constexpr bool kRangeType = is_numeric_v<T>;

class RangeKernel final : public CudaKernel {
 public:
  explicit RangeKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.outputs[0].dtype, [&](auto tag) {
      if constexpr (!kRangeType<decltype(tag)>) fail_dtype(ctx, 0, ctx.outputs[0].dtype);
    });
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t n = y.numel();
    if (n == 0) return;
    visit_device_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kRangeType<T>) {
        range_kernel<<<grid_for(n), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const T>(), ctx.inputs[2].as<const T>(), y.as<T>(), n);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }
};

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

}  // namespace

void register_generators_kernels(CudaKernelRegistry& r) {
  r.add("ConstantOfShape", make_kernel<ConstantOfShapeKernel>);
  r.add("Range", make_kernel<RangeKernel>);
  r.add("Trilu", make_kernel<TriluKernel>);
}

}  // namespace kiln::cuda
