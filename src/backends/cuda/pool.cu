// CUDA pooling over 1 to 3 spatial axes (NCHW-style layouts): MaxPool (with the optional Indices
// output, row-major), AveragePool (count_include_pad), and the global pools as per-plane
// reductions. The window geometry comes from ir/ops/window.hpp, as in shape inference and the CPU
// kernels, so all three agree.
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/reduction_family.hpp"
#include "backends/cuda/row_launch.hpp"
#include "ir/ops/window.hpp"

namespace kiln::cuda {
namespace {

constexpr int kMaxSpatial = 3;

template <typename T>
constexpr bool kPoolType = is_numeric_v<T>;

// Geometry with unused leading axes of size 1 (so every pool is 3-D on the device).
struct PoolGeometry {
  int64_t planes = 0;
  int64_t in[kMaxSpatial] = {1, 1, 1}, out[kMaxSpatial] = {1, 1, 1};
  int64_t kernel[kMaxSpatial] = {1, 1, 1}, stride[kMaxSpatial] = {1, 1, 1};
  int64_t dilation[kMaxSpatial] = {1, 1, 1};
  int64_t pad_begin[kMaxSpatial] = {0, 0, 0}, pad_end[kMaxSpatial] = {0, 0, 0};
  bool include_pad = false;
};

template <typename T, bool kMax>
__global__ void pool_kernel(const T* __restrict__ x, T* __restrict__ y,
                            int64_t* __restrict__ indices, PoolGeometry g) {
  using C = compute_t<T>;
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  const int64_t n = g.planes * out_size;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t plane = i / out_size, o = i % out_size;
    int64_t oc[3];
    oc[2] = o % g.out[2];
    oc[1] = (o / g.out[2]) % g.out[1];
    oc[0] = o / (g.out[2] * g.out[1]);
    const T* xp = x + plane * in_size;
    int64_t start[3];
    int64_t padded = 1;  // window positions inside the padded input (count_include_pad)
    for (int a = 0; a < 3; ++a) {
      start[a] = oc[a] * g.stride[a] - g.pad_begin[a];
      int64_t cnt = 0;
      for (int64_t k = 0; k < g.kernel[a]; ++k) {
        int64_t pos = start[a] + k * g.dilation[a];
        cnt += pos >= -g.pad_begin[a] && pos < g.in[a] + g.pad_end[a];
      }
      padded *= cnt;
    }
    C best = std::numeric_limits<C>::lowest();
    int64_t best_at = -1;
    double sum = 0;
    int64_t count = 0;
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      int64_t p0 = start[0] + k0 * g.dilation[0];
      if (p0 < 0 || p0 >= g.in[0]) continue;
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        int64_t p1 = start[1] + k1 * g.dilation[1];
        if (p1 < 0 || p1 >= g.in[1]) continue;
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          int64_t p2 = start[2] + k2 * g.dilation[2];
          if (p2 < 0 || p2 >= g.in[2]) continue;
          int64_t off = (p0 * g.in[1] + p1) * g.in[2] + p2;
          C v = load(xp[off]);
          if constexpr (kMax) {
            if (best_at < 0 || v > best) {
              best = v;
              best_at = off;
            }
          } else {
            sum += static_cast<double>(v);
            ++count;
          }
        }
      }
    }
    if constexpr (kMax) {
      y[i] = store<T>(best);
      if (indices) indices[i] = plane * in_size + best_at;
    } else {
      if (g.include_pad) count = padded;
      y[i] = store<T>(static_cast<C>(count > 0 ? sum / static_cast<double>(count) : 0.0));
    }
  }
}

template <bool kMax>
class PoolKernel final : public CudaKernel {
 public:
  explicit PoolKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!kPoolType<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    if (x.shape.size() < 3 || x.shape.size() > 2 + kMaxSpatial) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA pools take 1 to ", kMaxSpatial,
               " spatial axes, the input has rank ", x.shape.size());
    }
    if (kMax && ctx.node.attrs.get_int("storage_order", 0) != 0 && ctx.node.output(1)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA MaxPool writes Indices in row-major order only");
    }
    size_t spatial = x.shape.size() - 2;
    ir::WindowFail fail = [&ctx](const std::string& m) {
      ctx.fail(ErrorCode::kInvalidArgument, m);
    };
    ir::WindowSpec spec = ir::read_window_spec(ctx.node, spatial, {}, fail);
    g_.planes = x.shape[0] * x.shape[1];
    g_.include_pad = ctx.node.attrs.get_int("count_include_pad", 0) != 0;
    size_t lead = kMaxSpatial - spatial;
    for (size_t i = 0; i < spatial; ++i) {
      ir::AxisWindow a = ir::forward_window(ctx.node, spec, i, x.shape[i + 2], fail);
      g_.in[lead + i] = x.shape[i + 2];
      g_.out[lead + i] = a.out;
      g_.kernel[lead + i] = spec.kernel[i];
      g_.stride[lead + i] = spec.strides[i];
      g_.dilation[lead + i] = spec.dilations[i];
      g_.pad_begin[lead + i] = a.pad_begin;
      g_.pad_end[lead + i] = a.pad_end;
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t n = y.numel();
    if (n == 0) return;
    int64_t* indices = kMax && ctx.outputs.size() > 1 ? ctx.outputs[1].as<int64_t>() : nullptr;
    visit_device_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kPoolType<T>) {
        pool_kernel<T, kMax><<<grid_for(n), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const T>(), y.as<T>(), indices, g_);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  PoolGeometry g_;
};

// Global pools: one block per (n, c) plane.
template <typename T, bool kMax>
__global__ void global_pool_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes,
                                   int64_t size) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  __shared__ A scratch[32];
  for (int64_t p = blockIdx.x; p < planes; p += gridDim.x) {
    const T* xp = x + p * size;
    A acc = kMax ? A(-INFINITY) : A(0);
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x) {
      A v = static_cast<A>(load(xp[i]));
      acc = kMax ? MaxOp{}(acc, v) : acc + v;
    }
    acc = kMax ? block_reduce(acc, MaxOp{}, scratch) : block_reduce(acc, SumOp{}, scratch);
    if (threadIdx.x == 0) y[p] = store<T>(kMax ? acc : acc / static_cast<A>(size));
  }
}

template <bool kMax>
class GlobalPoolKernel final : public CudaKernel {
 public:
  explicit GlobalPoolKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!is_float_v<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    if (x.shape.size() < 2) ctx.fail(ErrorCode::kInvalidArgument, "input must have rank >= 2");
    planes_ = x.shape[0] * x.shape[1];
    size_ = planes_ == 0 ? 0 : x.numel() / planes_;
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    if (planes_ == 0) return;
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T>) {
        global_pool_kernel<T, kMax><<<row_grid(planes_), row_block_size(size_), 0, ctx.stream>>>(
            ctx.inputs[0].as<const T>(), ctx.outputs[0].as<T>(), planes_, size_);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  int64_t planes_ = 0, size_ = 0;
};

}  // namespace

void register_pool_kernels(CudaKernelRegistry& r) {
  r.add("MaxPool", make_kernel<PoolKernel<true>>);
  r.add("AveragePool", make_kernel<PoolKernel<false>>);
  r.add("GlobalMaxPool", make_kernel<GlobalPoolKernel<true>>);
  r.add("GlobalAveragePool", make_kernel<GlobalPoolKernel<false>>);
}

}  // namespace kiln::cuda
