// CUDA Pow with mixed base and exponent types (integers by squaring, wrapping; floats in float or
// double by numpy's promotion). Semantics follow the CPU backend.
#include "backends/cuda/binary_kernel.cuh"
#include "backends/cuda/families.hpp"

namespace kiln::cuda {
namespace {

// Pow(base, exponent) in the base's type; floats compute in float when both are float or
// narrower, else in double (numpy's promotion).
struct PowOp {
  template <typename CA, typename CB>
  __device__ __forceinline__ CA operator()(CA x, CB e) const {
    if constexpr (is_int_v<CA> && is_int_v<CB>) {
      return ir::int_pow(x, e);
    } else if constexpr (is_int_v<CA>) {
      return float_to_int<CA>(pow(static_cast<double>(x), static_cast<double>(e)));
    } else {
      using P =
          std::conditional_t<std::is_same_v<CA, float> && std::is_same_v<CB, float>, float, double>;
      return static_cast<CA>(pow(static_cast<P>(x), static_cast<P>(e)));
    }
  }
};

// Pow instantiates base x exponent type pairs, so it takes the types models use.
template <typename T>
constexpr bool kPowType = is_float_v<T> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;

class PowKernel final : public CudaKernel {
 public:
  explicit PowKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    for (size_t i = 0; i < 2; ++i) {
      visit_device_dtype(ctx.inputs[i].dtype, [&](auto tag) {
        if constexpr (!kPowType<decltype(tag)>) fail_dtype(ctx, i, ctx.inputs[i].dtype);
      });
    }
    plan_ = plan_binary(ctx.inputs[0].shape, ctx.inputs[1].shape, ctx.outputs[0].shape);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs[0];
    const DeviceTensor& b = ctx.inputs[1];
    const DeviceTensor& y = ctx.outputs[0];
    visit_device_dtype(a.dtype, [&](auto base_tag) {
      using A = decltype(base_tag);
      if constexpr (kPowType<A>) {
        visit_device_dtype(b.dtype, [&](auto exp_tag) {
          using B = decltype(exp_tag);
          if constexpr (kPowType<B>) {
            launch_binary_map(plan_, a.as<const A>(), b.as<const B>(), y.as<A>(), y.numel(),
                              PowOp{}, ctx.stream);
          }
        });
      }
    });
  }

 private:
  BinaryPlan plan_;
};

}  // namespace

void register_elementwise_binary_pow_kernels(CudaKernelRegistry& r) {
  r.add("Pow", make_kernel<PowKernel>);
}

}  // namespace kiln::cuda
