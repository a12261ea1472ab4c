// CUDA kernels of the Reduce* ops over any set of axes (the reduced elements of each output are
// walked through a strided layout, so no transpose is needed) and of ArgMax/ArgMin along one axis.
// Floats accumulate in double and integers in 64 bits, as the CPU backend does, so results agree.
#include <cmath>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/row_launch.hpp"
#include "backends/cuda/strided_layout.hpp"
#include "ir/nan_minmax.hpp"
#include "ir/reduce_kind.hpp"

namespace kiln::cuda {
namespace {

using ir::reduce_kind;
using ir::ReduceKind;

template <typename T>
using acc_t = std::conditional_t<is_float_v<T>, double,
                                 std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

// The accumulator's identity and step for each kind (LogSumExp's max pass uses kMax).
template <typename A>
__device__ __forceinline__ A identity(ReduceKind k) {
  if (k == ReduceKind::kProd) return A(1);
  if constexpr (std::is_floating_point_v<A>) {
    if (k == ReduceKind::kMax) return A(-INFINITY);
    if (k == ReduceKind::kMin) return A(INFINITY);
  } else {
    if (k == ReduceKind::kMax) return std::numeric_limits<A>::lowest();
    if (k == ReduceKind::kMin) return std::numeric_limits<A>::max();
  }
  return A(0);
}

template <typename A>
__device__ __forceinline__ A combine(ReduceKind k, A a, A b) {
  if (k == ReduceKind::kProd) return a * b;
  if (k == ReduceKind::kMax) return MaxOp{}(a, b);
  if (k == ReduceKind::kMin) return MinOp{}(a, b);
  return a + b;
}

// One element's contribution; `shift` is LogSumExp's maximum.
template <typename A>
__device__ __forceinline__ A term(ReduceKind k, A v, A shift) {
  switch (k) {
    case ReduceKind::kL1:
      if constexpr (std::is_signed_v<A>) return v < A(0) ? -v : v;
      return v;
    case ReduceKind::kL2:
    case ReduceKind::kSumSquare:
      return v * v;
    case ReduceKind::kLogSumExp:
      if constexpr (std::is_floating_point_v<A>) return exp(v - shift);
      return v;
    default:
      return v;
  }
}

template <typename T>
__device__ __forceinline__ T saturate_from_double(double v) {
  if constexpr (is_int_v<T>) {
    return float_to_int<T>(v);
  } else {
    return store<T>(static_cast<compute_t<T>>(v));
  }
}

template <typename T, typename A>
__device__ __forceinline__ T finish(ReduceKind k, A acc, A shift, int64_t n) {
  switch (k) {
    case ReduceKind::kMean:
      if constexpr (std::is_floating_point_v<A>) {
        return saturate_from_double<T>(acc / static_cast<double>(n));
      } else {
        return static_cast<T>(n == 0 ? A(0) : static_cast<A>(acc / static_cast<A>(n)));
      }
    case ReduceKind::kL2:
      return saturate_from_double<T>(sqrt(static_cast<double>(acc)));
    case ReduceKind::kLogSum:
      return saturate_from_double<T>(log(static_cast<double>(acc)));
    case ReduceKind::kLogSumExp:
      if constexpr (std::is_floating_point_v<A>) {
        if (!isfinite(shift)) return saturate_from_double<T>(shift);
        return saturate_from_double<T>(shift + log(acc));
      }
      return static_cast<T>(acc);
    default:
      if constexpr (std::is_floating_point_v<A>) {
        return saturate_from_double<T>(static_cast<double>(acc));
      } else {
        return static_cast<T>(acc);
      }
  }
}

struct ReducePlan {
  StridedLayout<1> kept, reduced;
  int64_t outputs = 0, count = 0;
};

// Few reduced elements per output: a thread per output.
template <typename T>
__global__ void reduce_thread_kernel(const T* __restrict__ x, T* __restrict__ y, ReducePlan p,
                                     ReduceKind kind) {
  using A = acc_t<T>;
  for (int64_t o = global_index(); o < p.outputs; o += global_stride()) {
    int64_t base[1], off[1];
    strided_offsets(p.kept, o, base);
    A shift = 0;
    if (kind == ReduceKind::kLogSumExp) {
      shift = identity<A>(ReduceKind::kMax);
      for (int64_t j = 0; j < p.count; ++j) {
        strided_offsets(p.reduced, j, off);
        shift = MaxOp{}(shift, static_cast<A>(load(x[base[0] + off[0]])));
      }
    }
    A acc = identity<A>(kind);
    for (int64_t j = 0; j < p.count; ++j) {
      strided_offsets(p.reduced, j, off);
      acc = combine(kind, acc, term(kind, static_cast<A>(load(x[base[0] + off[0]])), shift));
    }
    y[o] = finish<T>(kind, acc, shift, p.count);
  }
}

// Many reduced elements per output: a block per output.
template <typename T>
__global__ void reduce_block_kernel(const T* __restrict__ x, T* __restrict__ y, ReducePlan p,
                                    ReduceKind kind) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  for (int64_t o = blockIdx.x; o < p.outputs; o += gridDim.x) {
    int64_t base[1], off[1];
    strided_offsets(p.kept, o, base);
    A shift = 0;
    if (kind == ReduceKind::kLogSumExp) {
      shift = identity<A>(ReduceKind::kMax);
      for (int64_t j = threadIdx.x; j < p.count; j += blockDim.x) {
        strided_offsets(p.reduced, j, off);
        shift = MaxOp{}(shift, static_cast<A>(load(x[base[0] + off[0]])));
      }
      shift = block_reduce(shift, MaxOp{}, scratch);
    }
    A acc = identity<A>(kind);
    for (int64_t j = threadIdx.x; j < p.count; j += blockDim.x) {
      strided_offsets(p.reduced, j, off);
      acc = combine(kind, acc, term(kind, static_cast<A>(load(x[base[0] + off[0]])), shift));
    }
    switch (kind) {
      case ReduceKind::kProd:
        acc = block_reduce(
            acc, [](A a, A b) { return a * b; }, scratch);
        break;
      case ReduceKind::kMax:
        acc = block_reduce(acc, MaxOp{}, scratch);
        break;
      case ReduceKind::kMin:
        acc = block_reduce(acc, MinOp{}, scratch);
        break;
      default:
        acc = block_reduce(acc, SumOp{}, scratch);
    }
    if (threadIdx.x == 0) y[o] = finish<T>(kind, acc, shift, p.count);
  }
}

class ReduceKernel final : public CudaKernel {
 public:
  explicit ReduceKernel(const ir::Node& node) : kind_(reduce_kind(node.op)) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!is_numeric_v<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    std::vector<int64_t> axes;
    if (ctx.node.input(1)) {
      const Tensor* a = ctx.constant_input(1);
      if (!a) {
        ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs the axes input to be a constant");
      }
      axes.assign(a->data<int64_t>(), a->data<int64_t>() + a->numel());
    } else if (ctx.node.attrs.has("axes")) {
      axes = ctx.node.attrs.get_ints("axes");
    }
    copy_ = axes.empty() && ctx.node.attrs.get_int("noop_with_empty_axes", 0) != 0;
    auto rank = static_cast<int64_t>(x.shape.size());
    std::vector<bool> reduced(x.shape.size(), axes.empty());
    for (int64_t a : axes) {
      int64_t k = a < 0 ? a + rank : a;
      if (k < 0 || k >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis ", a, " out of range");
      reduced[static_cast<size_t>(k)] = true;
    }
    std::vector<int64_t> strides = contiguous_strides(x.shape);
    Shape kept_shape, red_shape;
    std::vector<int64_t> kept_strides, red_strides;
    for (size_t i = 0; i < x.shape.size(); ++i) {
      (reduced[i] ? red_shape : kept_shape).push_back(x.shape[i]);
      (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
    }
    plan_.kept = make_strided_layout<1>(kept_shape, {kept_strides});
    plan_.reduced = make_strided_layout<1>(red_shape, {red_strides});
    plan_.outputs = shape_numel(kept_shape);
    plan_.count = shape_numel(red_shape);
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    const DeviceTensor& y = ctx.outputs[0];
    if (copy_) {
      if (x.nbytes()) {
        KILN_CUDA_CHECK(
            cudaMemcpyAsync(y.data, x.data, x.nbytes(), cudaMemcpyDeviceToDevice, ctx.stream));
      }
      return;
    }
    if (plan_.outputs == 0) return;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_numeric_v<T>) {
        if (plan_.count >= 64 || plan_.outputs < 1024) {
          reduce_block_kernel<T>
              <<<row_grid(plan_.outputs), row_block_size(plan_.count), 0, ctx.stream>>>(
                  x.as<const T>(), y.as<T>(), plan_, kind_);
        } else {
          reduce_thread_kernel<T><<<grid_for(plan_.outputs), kBlockSize, 0, ctx.stream>>>(
              x.as<const T>(), y.as<T>(), plan_, kind_);
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  ReduceKind kind_;
  ReducePlan plan_;
  bool copy_ = false;
};

template <typename T>
__global__ void arg_reduce_kernel(const T* __restrict__ x, int64_t* __restrict__ y, int64_t outer,
                                  int64_t len, int64_t inner, bool is_max, bool last) {
  int64_t columns = outer * inner;
  for (int64_t c = global_index(); c < columns; c += global_stride()) {
    const T* p = x + (c / inner) * len * inner + c % inner;
    int64_t best = 0;
    auto bv = load(p[0]);
    for (int64_t k = 1; k < len; ++k) {
      auto v = load(p[k * inner]);
      // The first NaN wins either way, as in numpy and on the CPU.
      bool better = is_max ? ir::greater_nan_first(v, bv) : ir::less_nan_first(v, bv);
      bool tie = v == bv || (v != v && bv != bv);
      if (better || (last && tie)) {
        best = k;
        bv = v;
      }
    }
    y[c] = best;
  }
}

class ArgReduceKernel final : public CudaKernel {
 public:
  explicit ArgReduceKernel(const ir::Node& node)
      : is_max_(node.op == "ArgMax"), last_(node.attrs.get_int("select_last_index", 0) != 0) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!is_numeric_v<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    auto rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = ctx.node.attrs.get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis out of range");
    outer_ = inner_ = 1;
    for (int64_t i = 0; i < axis; ++i) outer_ *= x.shape[i];
    len_ = x.shape[axis];
    for (int64_t i = axis + 1; i < rank; ++i) inner_ *= x.shape[i];
    if (len_ == 0 && outer_ * inner_ > 0) {
      ctx.fail(ErrorCode::kInvalidArgument, "cannot take ", ctx.node.op, " over an empty axis");
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    int64_t columns = outer_ * inner_;
    if (columns == 0) return;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_numeric_v<T>) {
        arg_reduce_kernel<<<grid_for(columns), kBlockSize, 0, ctx.stream>>>(
            x.as<const T>(), ctx.outputs[0].as<int64_t>(), outer_, len_, inner_, is_max_, last_);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  bool is_max_, last_;
  int64_t outer_ = 1, len_ = 1, inner_ = 1;
};

}  // namespace

void register_reduction_kernels(CudaKernelRegistry& r) {
  for (const char* op :
       {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
    r.add(op, make_kernel<ReduceKernel>);
  }
  r.add("ArgMax", make_kernel<ArgReduceKernel>);
  r.add("ArgMin", make_kernel<ArgReduceKernel>);
}

}  // namespace kiln::cuda
