// CUDA kernels of the shape family's ops whose output is a copy of bytes or known before any data:
// Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout (inference) copy device to device;
// Shape and Size are computed at prepare time into a small device buffer the kernel owns.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/fill.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

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

}  // namespace

void register_shape_copy_kernels(CudaKernelRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}) {
    r.add(op, make_kernel<CopyKernel>);
  }
  r.add("Shape", make_kernel<PrecomputedKernel>);
  r.add("Size", make_kernel<PrecomputedKernel>);
}

}  // namespace kiln::cuda
