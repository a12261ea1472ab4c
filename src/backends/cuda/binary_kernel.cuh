// The broadcasting binary kernel shared by the elementwise family's binary files
// (elementwise_binary_arith.cu, elementwise_binary_logic.cu): BinaryKernel<Op> runs Op over inputs
// 0 and 1 of one type into output 0. Each group is its own .cu file so that their many (op, type)
// instantiations compile in parallel.
#pragma once

#include "backends/cuda/elementwise_map.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"

namespace kiln::cuda {

// Runs Op over inputs 0 and 1 (one type T) into output 0 (bool for comparisons, else T).
template <typename Op>
class BinaryKernel final : public CudaKernel {
 public:
  explicit BinaryKernel(const ir::Node& node) : op_(make_op<Op>(node)) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      if constexpr (!Op::template accepts<decltype(tag)>()) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    });
    plan_ = plan_binary(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.outputs[0].shape);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs[0];
    const DeviceTensor& b = ctx.inputs[1];
    const DeviceTensor& y = ctx.outputs[0];
    visit_device_dtype(a.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (Op::template accepts<T>()) {
        using Out = std::conditional_t<Op::kCompare, bool, T>;
        launch_binary_map(plan_, a.as<const T>(), b.as<const T>(), y.as<Out>(), y.numel(), op_,
                          ctx.stream);
      }
    });
  }

 private:
  Op op_;
  BinaryPlan plan_;
};

template <typename Op>
void add_binary(CudaKernelRegistry& r, const char* name) {
  r.add(name, make_kernel<BinaryKernel<Op>>);
}

}  // namespace kiln::cuda
