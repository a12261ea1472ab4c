// CUDA Pad (constant, reflect, edge, wrap) and Tile: each output element finds its source through
// per-axis coordinate arithmetic over up to kMaxDims axes; instantiated per element size.
#include <cstring>
#include <vector>

#include "backends/cpu/dispatch.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap, kTile };

struct AxisMap {
  int rank = 0;
  int64_t out[kMaxDims] = {}, in[kMaxDims] = {}, before[kMaxDims] = {}, stride[kMaxDims] = {};
};

// The input coordinate output coordinate `c` reads along an axis of size n, or -1 for the fill.
__device__ __forceinline__ int64_t source(PadMode mode, int64_t c, int64_t n) {
  if (c >= 0 && c < n) return c;
  switch (mode) {
    case PadMode::kEdge:
      return c < 0 ? 0 : n - 1;
    case PadMode::kWrap:
    case PadMode::kTile:
      return ((c % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      int64_t p = 2 * (n - 1);  // reflection without repeating the edge has this period
      int64_t m = ((c % p) + p) % p;
      return m < n ? m : p - m;
    }
    default:
      return -1;
  }
}

template <typename E>
__global__ void remap_kernel(const E* __restrict__ src, E* __restrict__ dst, int64_t total,
                             AxisMap m, PadMode mode, E fill, const E* fill_ptr) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t rest = i, off = 0;
    bool inside = true;
    for (int d = m.rank - 1; d >= 0; --d) {
      int64_t c = rest % m.out[d];
      rest /= m.out[d];
      int64_t s = source(mode, c - m.before[d], m.in[d]);
      if (s < 0) inside = false;
      off += s * m.stride[d];
    }
    dst[i] = inside ? src[off] : (fill_ptr ? *fill_ptr : fill);
  }
}

// A constant pad of the innermost axis alone (a channels-last tensor's channels widened to a
// vector, pad_narrow_conv_channels.cpp): rows of `in` elements become rows of `out`, one 32-bit
// division per element instead of one 64-bit division per axis.
template <typename E>
__global__ void pad_rows_kernel(const E* __restrict__ src, E* __restrict__ dst, int32_t total,
                                int32_t in, int32_t out, int32_t before, E fill,
                                const E* fill_ptr) {
  const int32_t stride = static_cast<int32_t>(gridDim.x) * blockDim.x;
  for (int32_t i = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int32_t row = i / out, s = i - row * out - before;
    dst[i] = s >= 0 && s < in ? src[row * in + s] : (fill_ptr ? *fill_ptr : fill);
  }
}

// pad_rows_kernel when each output row is one 16-byte vector (3 FP16 channels padded to 8): a
// thread per row, one vector store.
template <typename E, int kOut>
__global__ void pad_vector_rows_kernel(const E* __restrict__ src, E* __restrict__ dst, int32_t rows,
                                       int32_t in, int32_t before, E fill, const E* fill_ptr) {
  struct alignas(16) Row {
    E v[kOut];
  };
  const int32_t stride = static_cast<int32_t>(gridDim.x) * blockDim.x;
  for (int32_t r = static_cast<int32_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += stride) {
    const E f = fill_ptr ? *fill_ptr : fill;
    Row row;
#pragma unroll
    for (int c = 0; c < kOut; ++c) {
      const int32_t s = c - before;
      row.v[c] = s >= 0 && s < in ? src[r * in + s] : f;
    }
    reinterpret_cast<Row*>(dst)[r] = row;
  }
}

class RemapKernel : public CudaKernel {
 public:
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs[0];
    int64_t total = y.numel();
    if (total == 0) return;
    visit_element_size(element_size(y.dtype), [&](auto tag) {
      using E = decltype(tag);
      E fill;
      std::memcpy(&fill, &fill_, sizeof(E));
      const E* fill_ptr = fill_on_device_ ? ctx.inputs[2].as<const E>() : nullptr;
      constexpr int kVector = static_cast<int>(16 / sizeof(E));
      const int last = map_.rank - 1;
      if (innermost_only_ && map_.out[last] == kVector &&
          reinterpret_cast<uintptr_t>(y.data) % 16 == 0) {
        pad_vector_rows_kernel<E, kVector>
            <<<grid_for(total / kVector), kBlockSize, 0, ctx.stream>>>(
                ctx.inputs[0].as<const E>(), y.as<E>(), static_cast<int32_t>(total / kVector),
                static_cast<int32_t>(map_.in[last]), static_cast<int32_t>(map_.before[last]), fill,
                fill_ptr);
      } else if (innermost_only_) {
        pad_rows_kernel<<<grid_for(total), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const E>(), y.as<E>(), static_cast<int32_t>(total),
            static_cast<int32_t>(map_.in[last]), static_cast<int32_t>(map_.out[last]),
            static_cast<int32_t>(map_.before[last]), fill, fill_ptr);
      } else {
        remap_kernel<<<grid_for(total), kBlockSize, 0, ctx.stream>>>(
            ctx.inputs[0].as<const E>(), y.as<E>(), total, map_, mode_, fill, fill_ptr);
      }
      KILN_CUDA_CHECK(cudaGetLastError());
    });
  }

 protected:
  void plan_axes(const CudaKernelContext& ctx, const std::vector<int64_t>& before) {
    const Shape& in = ctx.inputs[0].shape;
    const Shape& out = ctx.outputs[0].shape;
    if (in.size() > static_cast<size_t>(kMaxDims)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes at most ", kMaxDims, " axes");
    }
    std::vector<int64_t> strides = contiguous_strides(in);
    map_.rank = static_cast<int>(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      map_.out[d] = out[d];
      map_.in[d] = in[d];
      map_.before[d] = before[d];
      map_.stride[d] = strides[d];
      if (mode_ != PadMode::kConstant && in[d] == 0 && out[d] > 0) {
        ctx.fail(ErrorCode::kInvalidArgument, "cannot fill axis ", d, " of size 0 from its input");
      }
    }
    // Half the 32-bit range: the grid-stride step past the last element must not overflow.
    innermost_only_ = mode_ == PadMode::kConstant && !in.empty() &&
                      shape_numel(out) < INT32_MAX / 2 && shape_numel(in) < INT32_MAX / 2;
    for (size_t d = 0; d + 1 < in.size() && innermost_only_; ++d) {
      innermost_only_ = in[d] == out[d] && before[d] == 0;
    }
  }

  AxisMap map_;
  bool innermost_only_ = false;  // pad_rows_kernel applies
  PadMode mode_ = PadMode::kConstant;
  uint64_t fill_ = 0;
  bool fill_on_device_ = false;
};

std::vector<int64_t> constant_ints(const CudaKernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.constant_input(i);
  if (!t) ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs ", what, " to be a constant");
  std::vector<int64_t> v(static_cast<size_t>(t->numel()));
  for (size_t k = 0; k < v.size(); ++k) {
    v[k] = t->dtype() == DataType::kInt32 ? t->data<int32_t>()[k] : t->data<int64_t>()[k];
  }
  return v;
}

class PadKernel final : public RemapKernel {
 public:
  explicit PadKernel(const ir::Node& node) {
    std::string m = node.attrs.get_string("mode", "constant");
    mode_ = m == "reflect" ? PadMode::kReflect
            : m == "edge"  ? PadMode::kEdge
            : m == "wrap"  ? PadMode::kWrap
                           : PadMode::kConstant;
  }
  size_t prepare(const CudaKernelContext& ctx) override {
    auto r = static_cast<int64_t>(ctx.inputs[0].shape.size());
    std::vector<int64_t> pads = constant_ints(ctx, 1, "pads");
    std::vector<int64_t> axes;
    if (ctx.node.input(3)) {
      axes = constant_ints(ctx, 3, "axes");
    } else {
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    if (pads.size() != 2 * axes.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, "pads has ", pads.size(), " entries for ", axes.size(),
               " axes");
    }
    std::vector<int64_t> before(static_cast<size_t>(r), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
      if (a < 0 || a >= r) ctx.fail(ErrorCode::kInvalidArgument, "axis ", axes[i], " out of range");
      before[static_cast<size_t>(a)] = pads[i];
    }
    plan_axes(ctx, before);
    // The fill value: a constant converted to the data's type now, or a runtime scalar of the
    // data's type read on the device.
    DataType dtype = ctx.inputs[0].dtype;
    if (ctx.node.input(2)) {
      if (const Tensor* v = ctx.constant_input(2)) {
        if (v->numel() > 0) {
          double x = cpu::visit_dtype(v->dtype(), [&](auto tag) {
            using T = decltype(tag);
            return static_cast<double>(cpu::load(v->data<T>()[0]));
          });
          cpu::visit_dtype(dtype, [&](auto tag) {
            using T = decltype(tag);
            T t = cpu::store<T>(static_cast<cpu::compute_t<T>>(x));
            std::memcpy(&fill_, &t, sizeof(T));
          });
        }
      } else if (ctx.inputs[2].dtype == dtype && ctx.inputs[2].numel() > 0) {
        fill_on_device_ = true;
      } else if (ctx.inputs[2].numel() > 0) {
        ctx.fail(ErrorCode::kUnsupported, "a runtime constant_value must have the data's type");
      }
    }
    return 0;
  }
};

class TileKernel final : public RemapKernel {
 public:
  explicit TileKernel(const ir::Node&) { mode_ = PadMode::kTile; }
  size_t prepare(const CudaKernelContext& ctx) override {
    plan_axes(ctx, std::vector<int64_t>(ctx.inputs[0].shape.size(), 0));
    return 0;
  }
};

}  // namespace

void register_shape_pad_tile_kernels(CudaKernelRegistry& r) {
  r.add("Pad", make_kernel<PadKernel>);
  r.add("Tile", make_kernel<TileKernel>);
}

}  // namespace kiln::cuda
