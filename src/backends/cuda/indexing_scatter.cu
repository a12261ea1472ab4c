// CUDA ScatterND and ScatterElements (and the deprecated Scatter): the output starts as a copy of
// the data, then every update lands on its element. Reductions (add, mul, max, min) apply through
// an atomic compare-and-swap on the word holding the element, so duplicate indices combine as on
// the CPU (float sums may round in another order). With reduction none, duplicate indices leave
// one of the updates (ONNX leaves the order undefined; the CPU keeps the last). Index rules are
// those of index_helpers.cuh: constant indices are checked at prepare time, runtime ones clamped.
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/index_helpers.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "ir/nan_minmax.hpp"

namespace kiln::cuda {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction parse_reduction(const CudaKernelContext& ctx) {
  std::string r = ctx.node.attrs.get_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  ctx.fail(ErrorCode::kInvalidArgument, "unknown reduction '", r, "'");
}

// The value an element holding `old` takes when `update` lands on it, as the CPU computes it:
// bool add/max are or, mul/min are and; integers wrap; max/min keep a NaN from either side.
template <typename T>
__device__ __forceinline__ T combine(Reduction r, T old, T update) {
  if constexpr (std::is_same_v<T, bool>) {
    return (r == Reduction::kAdd || r == Reduction::kMax) ? (old || update) : (old && update);
  } else if constexpr (is_int_v<T>) {
    switch (r) {
      case Reduction::kAdd:
        return wrap_add(old, update);
      case Reduction::kMul:
        return wrap_mul(old, update);
      case Reduction::kMax:
        return old < update ? update : old;
      case Reduction::kMin:
        return update < old ? update : old;
      default:
        return update;
    }
  } else {
    auto a = load(old), b = load(update);
    switch (r) {
      case Reduction::kAdd:
        return store<T>(a + b);
      case Reduction::kMul:
        return store<T>(a * b);
      case Reduction::kMax:
        return store<T>(ir::max_keep_nan(a, b));
      case Reduction::kMin:
        return store<T>(ir::min_keep_nan(a, b));
      default:
        return update;
    }
  }
}

template <typename T>
__device__ __forceinline__ T from_bits(unsigned long long bits) {
  T v;
  memcpy(&v, &bits, sizeof(T));  // little-endian: the low bytes
  return v;
}
template <typename T>
__device__ __forceinline__ unsigned long long to_bits(T v) {
  unsigned long long bits = 0;
  memcpy(&bits, &v, sizeof(T));
  return bits;
}

// Applies `update` to *p. Elements narrower than 4 bytes are updated through the aligned 32-bit
// word holding them (the word lies inside the allocation: device buffers are 256-byte aligned).
template <typename T>
__device__ void apply_update(T* p, T update, Reduction r) {
  if (r == Reduction::kNone) {
    *p = update;
    return;
  }
  if constexpr (sizeof(T) == 8) {
    auto* w = reinterpret_cast<unsigned long long*>(p);
    unsigned long long cur = *w, seen;
    do {
      seen = cur;
      cur = atomicCAS(w, seen, to_bits(combine(r, from_bits<T>(seen), update)));
    } while (cur != seen);
  } else if constexpr (sizeof(T) == 4) {
    auto* w = reinterpret_cast<unsigned int*>(p);
    unsigned int cur = *w, seen;
    do {
      seen = cur;
      auto next = static_cast<unsigned int>(to_bits(combine(r, from_bits<T>(seen), update)));
      cur = atomicCAS(w, seen, next);
    } while (cur != seen);
  } else {
    auto addr = reinterpret_cast<uintptr_t>(p);
    auto* w = reinterpret_cast<unsigned int*>(addr & ~uintptr_t{3});
    unsigned shift = static_cast<unsigned>(addr & 3) * 8;
    unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
    unsigned int cur = *w, seen;
    do {
      seen = cur;
      T old = from_bits<T>((seen & mask) >> shift);
      auto bits = static_cast<unsigned int>(to_bits(combine(r, old, update)));
      cur = atomicCAS(w, seen, (seen & ~mask) | ((bits << shift) & mask));
    } while (cur != seen);
  }
}

// The data dims an index tuple addresses (the first k): sizes and strides.
struct TupleDims {
  int k = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

// Update element i = (tuple t, slice element e) lands on data[tuple t][e].
template <typename T, typename I>
__global__ void scatter_nd_kernel(const I* __restrict__ idx, const T* __restrict__ upd,
                                  T* __restrict__ out, int64_t total, int64_t slice, TupleDims td,
                                  Reduction r) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t t = i / slice, e = i % slice;
    const I* tuple = idx + t * td.k;
    int64_t off = e;
    for (int j = 0; j < td.k; ++j) off += resolve_index(tuple[j], td.sizes[j]) * td.strides[j];
    apply_update(out + off, upd[i], r);
  }
}

// Update i (walking the indices' shape) lands on the data element with its coordinates and the
// axis coordinate replaced by the index: layout operand 0 gives the data offset without the axis
// term, operand 1 the offset in indices and updates.
template <typename T, typename I>
__global__ void scatter_elements_kernel(const I* __restrict__ idx, const T* __restrict__ upd,
                                        T* __restrict__ out, int64_t total, StridedLayout<2> l,
                                        int64_t n, int64_t axis_stride, Reduction r) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t off[2];
    strided_offsets(l, i, off);
    apply_update(out + off[0] + resolve_index(idx[off[1]], n) * axis_stride, upd[off[1]], r);
  }
}

// Copies data to the output, then launches the scatter through `launch(T, I)`.
class ScatterKernelBase : public CudaKernel {
 protected:
  void check_types(const CudaKernelContext& ctx) {
    check_index_dtype(ctx, 1);
    if (ctx.inputs[2].dtype != ctx.inputs[0].dtype) fail_dtype(ctx, 2, ctx.inputs[2].dtype);
    reduction_ = parse_reduction(ctx);
    DataType t = ctx.inputs[0].dtype;
    if (reduction_ != Reduction::kNone && (t == DataType::kFloat8E4M3)) fail_dtype(ctx, 0, t);
  }
  template <typename F>
  void copy_then(const CudaKernelContext& ctx, F&& launch) {
    const DeviceTensor& x = ctx.inputs[0];
    const DeviceTensor& y = ctx.outputs[0];
    if (x.nbytes() && x.data != y.data) {
      KILN_CUDA_CHECK(
          cudaMemcpyAsync(y.data, x.data, x.nbytes(), cudaMemcpyDeviceToDevice, ctx.stream));
    }
    if (updates_ == 0) return;
    visit_device_dtype(y.dtype, [&](auto ttag) {
      using T = decltype(ttag);
      if constexpr (!std::is_same_v<T, fp8_t>) {
        visit_index(ctx.inputs[1].dtype, [&](auto itag) {
          launch(ttag, itag);
          KILN_CUDA_CHECK(cudaGetLastError());
        });
      } else {
        // fp8 only moves (checked at prepare): scatter its bytes.
        visit_index(ctx.inputs[1].dtype, [&](auto itag) {
          launch(uint8_t{}, itag);
          KILN_CUDA_CHECK(cudaGetLastError());
        });
      }
    });
  }
  Reduction reduction_ = Reduction::kNone;
  int64_t updates_ = 0;
};

class ScatterNDKernel final : public ScatterKernelBase {
 public:
  explicit ScatterNDKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_types(ctx);
    const Shape& ds = ctx.inputs[0].shape;
    const Shape& is = ctx.inputs[1].shape;
    if (is.empty()) ctx.fail(ErrorCode::kInvalidArgument, "indices must have rank >= 1");
    int64_t k = is.back();
    if (k < 0 || k > static_cast<int64_t>(ds.size())) {
      ctx.fail(ErrorCode::kInvalidArgument, "index tuples of length ", k,
               " do not fit data of rank ", ds.size());
    }
    if (k > kMaxDims) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes index tuples of up to ", kMaxDims,
               " elements, not ", k);
    }
    std::vector<int64_t> strides = contiguous_strides(ds);
    td_ = TupleDims{};
    td_.k = static_cast<int>(k);
    for (size_t j = 0; j < static_cast<size_t>(k); ++j) {
      td_.sizes[j] = ds[j];
      td_.strides[j] = strides[j];
    }
    slice_ = 1;
    for (size_t d = static_cast<size_t>(k); d < ds.size(); ++d) slice_ *= ds[d];
    int64_t tuples = 1;
    for (size_t d = 0; d + 1 < is.size(); ++d) tuples *= is[d];
    updates_ = tuples * slice_;
    if (ctx.inputs[2].numel() != updates_) {
      ctx.fail(ErrorCode::kInvalidArgument, "updates have ", ctx.inputs[2].numel(),
               " elements, expected ", updates_);
    }
    for_each_constant_index(ctx, 1, [&](int64_t n, int64_t v) {
      if (k > 0) check_index_range(ctx, v, td_.sizes[n % k]);
    });
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    copy_then(ctx, [&](auto ttag, auto itag) {
      using T = decltype(ttag);
      using I = decltype(itag);
      scatter_nd_kernel<<<grid_for(updates_), kBlockSize, 0, ctx.stream>>>(
          ctx.inputs[1].as<const I>(), ctx.inputs[2].as<const T>(), ctx.outputs[0].as<T>(),
          updates_, slice_, td_, reduction_);
    });
  }

 private:
  TupleDims td_;
  int64_t slice_ = 1;
};

class ScatterElementsKernel final : public ScatterKernelBase {
 public:
  explicit ScatterElementsKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    check_types(ctx);
    const Shape& ds = ctx.inputs[0].shape;
    const Shape& is = ctx.inputs[1].shape;
    auto rank = static_cast<int64_t>(ds.size());
    int64_t axis = ctx.node.attrs.get_int("axis", 0);
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " out of range");
    if (is.size() != ds.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, "indices have rank ", is.size(), ", data rank ",
               ds.size());
    }
    if (ctx.inputs[2].shape != is) {
      ctx.fail(ErrorCode::kInvalidArgument, "updates ", shape_to_string(ctx.inputs[2].shape),
               " and indices ", shape_to_string(is), " must have the same shape");
    }
    for (size_t d = 0; d < ds.size(); ++d) {
      if (static_cast<int64_t>(d) != a && is[d] > ds[d]) {
        ctx.fail(ErrorCode::kInvalidArgument, "indices shape ", shape_to_string(is),
                 " exceeds data shape ", shape_to_string(ds), " on axis ", d);
      }
    }
    std::vector<int64_t> strides = contiguous_strides(ds);
    auto ua = static_cast<size_t>(a);
    n_ = ds[ua];
    axis_stride_ = strides[ua];
    strides[ua] = 0;
    updates_ = shape_numel(is);
    if (updates_ > 0 && n_ == 0) {
      ctx.fail(ErrorCode::kInvalidArgument, "cannot scatter into an empty axis");
    }
    layout_ = make_strided_layout<2>(is, {strides, contiguous_strides(is)});
    for_each_constant_index(ctx, 1, [&](int64_t, int64_t v) { check_index_range(ctx, v, n_); });
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    copy_then(ctx, [&](auto ttag, auto itag) {
      using T = decltype(ttag);
      using I = decltype(itag);
      scatter_elements_kernel<<<grid_for(updates_), kBlockSize, 0, ctx.stream>>>(
          ctx.inputs[1].as<const I>(), ctx.inputs[2].as<const T>(), ctx.outputs[0].as<T>(),
          updates_, layout_, n_, axis_stride_, reduction_);
    });
  }

 private:
  StridedLayout<2> layout_;
  int64_t n_ = 0, axis_stride_ = 0;
};

}  // namespace

void register_indexing_scatter_kernels(CudaKernelRegistry& r) {
  r.add("ScatterND", make_kernel<ScatterNDKernel>);
  r.add("ScatterElements", make_kernel<ScatterElementsKernel>);
  r.add("Scatter", make_kernel<ScatterElementsKernel>);
}

}  // namespace kiln::cuda
