// CUDA kernels of the ops whose output is a copy of bytes or known before any data: Reshape,
// Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference) copy device to device; Shape and
// Size are computed at prepare time into a small device buffer the kernel owns; ConstantOfShape
// fills; Range computes start + i * delta from its (device) scalar inputs.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/data_movement_family.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

template <typename E>
__global__ void fill_kernel(E* __restrict__ y, int64_t n, E value) {
  for (int64_t i = global_index(); i < n; i += global_stride()) y[i] = value;
}

// Fills n elements of `bytes` size with the bit pattern of `value` (its first `bytes` bytes).
void launch_fill(void* y, int64_t n, size_t bytes, uint64_t value, cudaStream_t stream) {
  if (n <= 0) return;
  visit_element_size(bytes, [&](auto tag) {
    using E = decltype(tag);
    E v;
    std::memcpy(&v, &value, sizeof(E));
    fill_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(static_cast<E*>(y), n, v);
    KILN_CUDA_CHECK(cudaGetLastError());
  });
}

// Same bytes, new shape. (A memory planner could alias input and output instead.)
class CopyKernel final : public CudaKernel {
 public:
  explicit CopyKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    if (ctx.node.op == "Dropout" && ctx.node.input(2)) {
      const Tensor* training = ctx.constant_input(2);
      if (!training || (training->numel() > 0 && training->data<bool>()[0])) {
        ctx.fail(ErrorCode::kUnsupported,
                 "training-mode dropout is random and not supported by an inference engine");
      }
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    const DeviceTensor& y = ctx.outputs[0];
    if (x.nbytes() > 0 && x.data != y.data) {
      KILN_CUDA_CHECK(
          cudaMemcpyAsync(y.data, x.data, x.nbytes(), cudaMemcpyDeviceToDevice, ctx.stream));
    }
    if (ctx.outputs.size() > 1 && ctx.outputs[1].data) {  // Dropout's mask: all kept
      launch_fill(ctx.outputs[1].data, ctx.outputs[1].numel(), 1, 1, ctx.stream);
    }
  }
};

// Output bytes computed on the host at prepare time, uploaded once, copied on each enqueue.
class PrecomputedKernel final : public CudaKernel {
 public:
  explicit PrecomputedKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& s = ctx.inputs[0].shape;
    std::vector<int64_t> values;
    if (ctx.node.op == "Size") {
      values.push_back(shape_numel(s));
    } else {
      auto r = static_cast<int64_t>(s.size());
      int64_t start = ctx.node.attrs.get_int("start", 0);
      if (start < 0) start += r;
      start = std::clamp<int64_t>(start, 0, r);
      int64_t count = ctx.outputs[0].numel();
      if (start + count > r) ctx.fail(ErrorCode::kInternal, "Shape output larger than the rank");
      values.assign(s.begin() + start, s.begin() + start + count);
    }
    bytes_ = values.size() * sizeof(int64_t);
    buffer_ = DeviceBuffer(std::max<size_t>(bytes_, 1));
    if (bytes_) {
      KILN_CUDA_CHECK(cudaMemcpy(buffer_.get(), values.data(), bytes_, cudaMemcpyHostToDevice));
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    if (bytes_) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(ctx.outputs[0].data, buffer_.get(), bytes_,
                                      cudaMemcpyDeviceToDevice, ctx.stream));
    }
  }

 private:
  DeviceBuffer buffer_;
  size_t bytes_ = 0;
};

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

}  // namespace

void register_copy_kernels(CudaKernelRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}) {
    r.add(op, make_kernel<CopyKernel>);
  }
  r.add("Shape", make_kernel<PrecomputedKernel>);
  r.add("Size", make_kernel<PrecomputedKernel>);
  r.add("ConstantOfShape", make_kernel<ConstantOfShapeKernel>);
  r.add("Range", make_kernel<RangeKernel>);
}

}  // namespace kiln::cuda
