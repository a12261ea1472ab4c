// CUDA kernels of the variadic broadcasting ops Sum, Mean, Max, Min (up to kMaxOperands inputs in
// one pass, the running value in the compute type) and of Where (a 3-way broadcast select).
#include <vector>

#include "backends/cuda/elementwise_map.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"

namespace kiln::cuda {
namespace {

constexpr int kMaxOperands = 16;

enum class Fold { kSum, kMean, kMax, kMin };

template <typename T>
struct VariadicArgs {
  const T* inputs[kMaxOperands];
  int count = 0;
  StridedLayout<kMaxOperands> layout;
};

template <typename T, Fold kFold>
__global__ void variadic_kernel(VariadicArgs<T> args, T* __restrict__ y, int64_t n) {
  using C = compute_t<T>;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t off[kMaxOperands];
    strided_offsets(args.layout, i, off);
    C acc = load(args.inputs[0][off[0]]);
    for (int k = 1; k < args.count; ++k) {
      C v = load(args.inputs[k][off[k]]);
      if constexpr (kFold == Fold::kSum || kFold == Fold::kMean) acc += v;
      if constexpr (kFold == Fold::kMax) acc = (acc > v || acc != acc) ? acc : v;
      if constexpr (kFold == Fold::kMin) acc = (acc < v || acc != acc) ? acc : v;
    }
    if constexpr (kFold == Fold::kMean) acc = acc / static_cast<C>(args.count);
    y[i] = store<T>(acc);
  }
}

template <Fold kFold>
class VariadicKernel final : public CudaKernel {
 public:
  explicit VariadicKernel(const ir::Node&) {}
  template <typename T>
  static constexpr bool accepts() {
    return (kFold == Fold::kMax || kFold == Fold::kMin) ? is_numeric_v<T> : is_float_v<T>;
  }

  size_t prepare(const CudaKernelContext& ctx) override {
    visit_device_dtype(ctx.outputs[0].dtype, [&](auto tag) {
      if constexpr (!accepts<decltype(tag)>()) fail_dtype(ctx, 0, ctx.outputs[0].dtype);
    });
    if (ctx.inputs.size() > static_cast<size_t>(kMaxOperands)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes at most ", kMaxOperands,
               " inputs, got ", ctx.inputs.size());
    }
    const Shape& out = ctx.outputs[0].shape;
    std::vector<std::vector<int64_t>> strides(kMaxOperands, std::vector<int64_t>(out.size(), 0));
    for (size_t k = 0; k < ctx.inputs.size(); ++k) {
      strides[k] = broadcast_strides(ctx.inputs[k].shape, out);
    }
    layout_ = make_strided_layout<kMaxOperands>(out, strides);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t n = y.numel();
    if (n == 0) return;
    visit_device_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (accepts<T>()) {
        VariadicArgs<T> args;
        args.count = static_cast<int>(ctx.inputs.size());
        for (int k = 0; k < kMaxOperands; ++k) {
          args.inputs[k] = k < args.count ? ctx.inputs[k].as<const T>() : nullptr;
        }
        args.layout = layout_;
        variadic_kernel<T, kFold><<<grid_for(n), kBlockSize, 0, ctx.stream>>>(args, y.as<T>(), n);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  StridedLayout<kMaxOperands> layout_;
};

// Where moves elements without arithmetic, so it is instantiated per element size.
template <typename E>
__global__ void where_kernel(const bool* __restrict__ cond, const E* __restrict__ x,
                             const E* __restrict__ y, E* __restrict__ out, int64_t n,
                             StridedLayout<3> l) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t off[3];
    strided_offsets(l, i, off);
    out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
  }
}

class WhereKernel final : public CudaKernel {
 public:
  explicit WhereKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    if (ctx.inputs[0].dtype != DataType::kBool) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    const Shape& out = ctx.outputs[0].shape;
    layout_ = make_strided_layout<3>(out, {broadcast_strides(ctx.inputs[0].shape, out),
                                           broadcast_strides(ctx.inputs[1].shape, out),
                                           broadcast_strides(ctx.inputs[2].shape, out)});
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& out = ctx.outputs[0];
    int64_t n = out.numel();
    if (n == 0) return;
    visit_element_size(element_size(out.dtype), [&](auto tag) {
      using E = decltype(tag);
      where_kernel<<<grid_for(n), kBlockSize, 0, ctx.stream>>>(
          ctx.inputs[0].as<const bool>(), ctx.inputs[1].as<const E>(), ctx.inputs[2].as<const E>(),
          out.as<E>(), n, layout_);
      KILN_CUDA_CHECK(cudaGetLastError());
    });
  }

 private:
  StridedLayout<3> layout_;
};

}  // namespace

void register_elementwise_variadic_kernels(CudaKernelRegistry& r) {
  r.add("Sum", make_kernel<VariadicKernel<Fold::kSum>>);
  r.add("Mean", make_kernel<VariadicKernel<Fold::kMean>>);
  r.add("Max", make_kernel<VariadicKernel<Fold::kMax>>);
  r.add("Min", make_kernel<VariadicKernel<Fold::kMin>>);
  r.add("Where", make_kernel<WhereKernel>);
}

}  // namespace kiln::cuda
