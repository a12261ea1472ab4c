// CUDA pooling over 1 to 3 spatial axes: MaxPool (with the optional Indices output, row-major),
// AveragePool (count_include_pad), and the global pools as per-plane reductions, in NCHW-style
// layouts; and, for channels_last=1 layers ([N, spatial..., C]), kernels whose threads each own a
// few neighbouring channels, so a warp reads each tap's channels contiguously with 16-byte vector
// loads when C and the buffers allow. The window geometry comes from ir/ops/window.hpp, as in
// shape inference and the CPU kernels, so all three agree.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/row_launch.hpp"
#include "ir/nan_minmax.hpp"
#include "ir/ops/channels_last.hpp"
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
  int64_t channels = 0;  // channels-last kernels: C; `planes` is then N
};

// kVec neighbouring elements, loaded or stored as one access (16 bytes for the widest kVec).
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Vec {
  T v[kVec];
};

// The widest vector of T that fits 16 bytes.
template <typename T>
constexpr int kWideVec = sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));

// Whether kWideVec<T> accesses are legal: C a multiple of the width, every buffer 16-byte aligned.
template <typename T>
bool can_vectorize(int64_t channels, std::initializer_list<const void*> buffers) {
  if (kWideVec<T> == 1 || channels % kWideVec<T> != 0) return false;
  for (const void* p : buffers) {
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  }
  return true;
}

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
            if (best_at < 0 || ir::greater_nan_first(v, best)) {  // the first NaN, else first max
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

// Channels-last MaxPool / AveragePool: item i is (n, output position, group of kVec channels),
// channels fastest, so neighbouring threads read neighbouring channels of the same taps. I is the
// index type: int32_t when every offset fits (the host checks), since the item's coordinates take
// seven divisions and 64-bit ones cost several times more than 32-bit ones.
template <typename T, bool kMax, int kVec, typename I>
__global__ void pool_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, PoolGeometry g) {
  using C = compute_t<T>;
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  I in[kMaxSpatial], out[kMaxSpatial];
#pragma unroll
  for (int a = 0; a < kMaxSpatial; ++a) {
    in[a] = static_cast<I>(g.in[a]);
    out[a] = static_cast<I>(g.out[a]);
  }
  const I out_size = out[0] * out[1] * out[2];
  const I in_size = in[0] * in[1] * in[2];
  const I channels = static_cast<I>(g.channels);
  const I groups = channels / kVec;  // the host picks kVec dividing C
  const I n = static_cast<I>(g.planes) * out_size * groups;
  const I stride_items = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride_items) {
    const I group = i % groups;
    const I o = (i / groups) % out_size;
    const I batch = i / (groups * out_size);
    I oc[3];
    oc[2] = o % out[2];
    oc[1] = (o / out[2]) % out[1];
    oc[0] = o / (out[2] * out[1]);
    I start[3];
    I padded = 1;  // window positions inside the padded input (count_include_pad)
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      start[a] = oc[a] * static_cast<I>(g.stride[a]) - static_cast<I>(g.pad_begin[a]);
      I cnt = 0;
      for (I k = 0; k < static_cast<I>(g.kernel[a]); ++k) {
        const I pos = start[a] + k * static_cast<I>(g.dilation[a]);
        cnt += pos >= -static_cast<I>(g.pad_begin[a]) && pos < in[a] + static_cast<I>(g.pad_end[a]);
      }
      padded *= cnt;
    }
    const T* xb = x + batch * in_size * channels + group * kVec;
    C best[kVec];
    A sum[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      best[j] = std::numeric_limits<C>::lowest();
      sum[j] = A(0);
    }
    I count = 0;
    for (I k0 = 0; k0 < static_cast<I>(g.kernel[0]); ++k0) {
      const I p0 = start[0] + k0 * static_cast<I>(g.dilation[0]);
      if (p0 < 0 || p0 >= in[0]) continue;
      for (I k1 = 0; k1 < static_cast<I>(g.kernel[1]); ++k1) {
        const I p1 = start[1] + k1 * static_cast<I>(g.dilation[1]);
        if (p1 < 0 || p1 >= in[1]) continue;
        for (I k2 = 0; k2 < static_cast<I>(g.kernel[2]); ++k2) {
          const I p2 = start[2] + k2 * static_cast<I>(g.dilation[2]);
          if (p2 < 0 || p2 >= in[2]) continue;
          const I pos = (p0 * in[1] + p1) * in[2] + p2;
          Vec<T, kVec> v = *reinterpret_cast<const Vec<T, kVec>*>(xb + pos * channels);
#pragma unroll
          for (int j = 0; j < kVec; ++j) {
            C c = load(v.v[j]);
            if constexpr (kMax) {
              best[j] = ir::max_keep_nan(best[j], c);
            } else {
              sum[j] += static_cast<A>(c);
            }
          }
          ++count;
        }
      }
    }
    if (!kMax && g.include_pad) count = padded;
    Vec<T, kVec> result;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      if constexpr (kMax) {
        result.v[j] = store<T>(best[j]);
      } else {
        result.v[j] = store<T>(static_cast<C>(count > 0 ? sum[j] / static_cast<A>(count) : A(0)));
      }
    }
    *reinterpret_cast<Vec<T, kVec>*>(y + (batch * out_size + o) * channels + group * kVec) = result;
  }
}

// Whether every element offset of a channels-last pool (input and output) fits in 32 bits, with
// room for the grid-stride step past the last item.
bool fits_int32(const PoolGeometry& g) {
  int64_t in = g.planes * g.channels, out = g.planes * g.channels;
  for (int a = 0; a < kMaxSpatial; ++a) {
    in *= g.in[a] + g.pad_begin[a] + g.pad_end[a];
    out *= g.out[a];
  }
  return in < INT32_MAX / 2 && out < INT32_MAX / 2;
}

template <typename T, bool kMax, int kVec>
void launch_pool_nhwc(const T* x, T* y, int64_t n, const PoolGeometry& g, cudaStream_t stream) {
  if (fits_int32(g)) {
    pool_nhwc_kernel<T, kMax, kVec, int32_t>
        <<<grid_for(n / kVec), kBlockSize, 0, stream>>>(x, y, g);
  } else {
    pool_nhwc_kernel<T, kMax, kVec, int64_t>
        <<<grid_for(n / kVec), kBlockSize, 0, stream>>>(x, y, g);
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
    channels_last_ = ctx.node.attrs.get_int(ir::kChannelsLastAttr, 0) != 0;
    const Shape shape = channels_last_ ? ir::to_channels_first(x.shape) : x.shape;
    size_t spatial = shape.size() - 2;
    ir::WindowFail fail = [&ctx](const std::string& m) {
      ctx.fail(ErrorCode::kInvalidArgument, m);
    };
    ir::WindowSpec spec = ir::read_window_spec(ctx.node, spatial, {}, fail);
    g_.planes = channels_last_ ? shape[0] : shape[0] * shape[1];
    g_.channels = channels_last_ ? shape[1] : 0;
    g_.include_pad = ctx.node.attrs.get_int("count_include_pad", 0) != 0;
    size_t lead = kMaxSpatial - spatial;
    for (size_t i = 0; i < spatial; ++i) {
      ir::AxisWindow a = ir::forward_window(ctx.node, spec, i, shape[i + 2], fail);
      g_.in[lead + i] = shape[i + 2];
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
        const T* x = ctx.inputs[0].as<const T>();
        if (!channels_last_) {
          pool_kernel<T, kMax>
              <<<grid_for(n), kBlockSize, 0, ctx.stream>>>(x, y.as<T>(), indices, g_);
        } else if (can_vectorize<T>(g_.channels, {x, y.data})) {
          launch_pool_nhwc<T, kMax, kWideVec<T>>(x, y.as<T>(), n, g_, ctx.stream);
        } else {
          launch_pool_nhwc<T, kMax, 1>(x, y.as<T>(), n, g_, ctx.stream);
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  PoolGeometry g_;
  bool channels_last_ = false;
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

constexpr int kGlobalThreads = 256;

// The accumulator of a pool over T: float, or double for double.
template <typename T>
using PoolAccum = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Channels-last global pools. The channels form groups of kVec (one vector load each); a block of
// kGlobalThreads threads at (tile, n, split) owns `tile_groups` neighbouring groups of one batch
// item and the spatial positions [split * chunk, (split + 1) * chunk). Its threads form rows of
// tile_groups lanes, each row reading one position's run of channels, so a narrow tensor (C = 32:
// four 16-byte groups) still has every lane loading (64 positions at a time) rather than 4 of 32.
// The rows' sums are combined in shared memory. With one split (chunk = size) the block writes the
// pooled value to y; with several (kPartial: batch x channel tiles alone would leave the GPU
// mostly idle, e.g. a squeeze-excitation pool over 112x112 positions) it writes its partial result
// to partial[(split * batch + n) * channels + c], and global_pool_nhwc_finish_kernel combines them.
template <typename T, bool kMax, int kVec, bool kPartial>
__global__ void __launch_bounds__(kGlobalThreads)
    global_pool_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y,
                            PoolAccum<T>* __restrict__ partial, int64_t batch, int64_t channels,
                            int64_t size, int64_t chunk, int tile_groups) {
  using A = PoolAccum<T>;
  __shared__ A rows[kGlobalThreads * kVec];
  const int lanes = tile_groups;
  const int row_count = kGlobalThreads / lanes;
  const int lane = threadIdx.x % lanes, row = threadIdx.x / lanes;
  const int64_t tile_c0 = static_cast<int64_t>(blockIdx.x) * lanes * kVec;
  const int64_t c0 = tile_c0 + static_cast<int64_t>(lane) * kVec;
  // kVec divides C, so a group is wholly in or out; threads past the last full row only sync.
  const bool active = c0 < channels && row < row_count;
  const int64_t split = blockIdx.z;
  const int64_t begin = split * chunk;
  const int64_t end = begin + chunk < size ? begin + chunk : size;
  const int tile_channels = lanes * kVec;
  for (int64_t n = blockIdx.y; n < batch; n += gridDim.y) {
    A acc[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) acc[j] = kMax ? A(-INFINITY) : A(0);
    if (active) {
      const T* xn = x + n * size * channels + c0;
      for (int64_t s = begin + row; s < end; s += row_count) {
        Vec<T, kVec> v = *reinterpret_cast<const Vec<T, kVec>*>(xn + s * channels);
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          A a = static_cast<A>(load(v.v[j]));
          acc[j] = kMax ? MaxOp{}(acc[j], a) : acc[j] + a;
        }
      }
    }
    if (row < row_count) {
#pragma unroll
      for (int j = 0; j < kVec; ++j) rows[row * tile_channels + lane * kVec + j] = acc[j];
    }
    __syncthreads();
    // Every thread combines the rows of some channels of the tile.
    for (int e = threadIdx.x; e < tile_channels; e += kGlobalThreads) {
      const int64_t c = tile_c0 + e;
      if (c >= channels) break;
      A r = rows[e];
      for (int k = 1; k < row_count; ++k) {
        A a = rows[k * tile_channels + e];
        r = kMax ? MaxOp{}(r, a) : r + a;
      }
      if constexpr (kPartial) {
        partial[(split * batch + n) * channels + c] = r;
      } else {
        y[n * channels + c] = store<T>(kMax ? r : r / static_cast<A>(size));
      }
    }
    __syncthreads();  // rows is reused by the next batch item
  }
}

template <typename T, bool kMax>
__global__ void global_pool_nhwc_finish_kernel(const PoolAccum<T>* __restrict__ partial,
                                               T* __restrict__ y, int64_t planes, int64_t splits,
                                               int64_t size) {
  using A = PoolAccum<T>;
  for (int64_t i = global_index(); i < planes; i += global_stride()) {
    A r = partial[i];
    for (int64_t s = 1; s < splits; ++s) {
      A a = partial[s * planes + i];
      r = kMax ? MaxOp{}(r, a) : r + a;
    }
    y[i] = store<T>(kMax ? r : r / static_cast<A>(size));
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
    channels_last_ = ctx.node.attrs.get_int(ir::kChannelsLastAttr, 0) != 0;
    batch_ = x.shape[0];
    channels_ = channels_last_ ? x.shape.back() : x.shape[1];
    planes_ = batch_ * channels_;
    size_ = planes_ == 0 ? 0 : x.numel() / planes_;
    splits_ = 1;
    if (!channels_last_ || planes_ == 0) return 0;
    // Enough blocks for eight per SM (a bandwidth-bound kernel needs many loads in flight);
    // each split keeps at least 64 positions so the partial sums stay a small share of the
    // traffic.
    const int64_t sms = ctx.libs && ctx.libs->sm_count > 0 ? ctx.libs->sm_count : 132;
    const int64_t tiles = channel_tiles(1);  // the most there are, whatever the vector width
    const int64_t blocks = tiles * std::min<int64_t>(batch_, 65535);
    const int64_t by_blocks = (8 * sms + blocks - 1) / blocks;
    const int64_t by_size = std::max<int64_t>(size_ / 64, 1);
    splits_ = std::clamp<int64_t>(std::min(by_blocks, by_size), 1, kMaxSplits);
    if (splits_ == 1) return 0;
    const size_t accum = x.dtype == DataType::kFloat64 ? sizeof(double) : sizeof(float);
    return static_cast<size_t>(splits_ * planes_) * accum;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    if (planes_ == 0) return;
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T>) {
        const T* x = ctx.inputs[0].as<const T>();
        T* y = ctx.outputs[0].as<T>();
        if (!channels_last_) {
          global_pool_kernel<T, kMax>
              <<<row_grid(planes_), row_block_size(size_), 0, ctx.stream>>>(x, y, planes_, size_);
        } else if (can_vectorize<T>(channels_, {x, y})) {
          launch_nhwc<T, kWideVec<T>>(x, y, ctx.workspace, ctx.stream);
        } else {
          launch_nhwc<T, 1>(x, y, ctx.workspace, ctx.stream);
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  static constexpr int64_t kMaxSplits = 64;

  // Channel groups of kVec per block (all of them up to one per thread), and the tiles they make.
  int tile_groups(int vec) const {
    return static_cast<int>(std::min<int64_t>(channels_ / vec, kGlobalThreads));
  }
  int64_t channel_tiles(int vec) const {
    return (channels_ / vec + tile_groups(vec) - 1) / tile_groups(vec);
  }

  template <typename T, int kVec>
  void launch_nhwc(const T* x, T* y, void* workspace, cudaStream_t stream) const {
    dim3 grid(static_cast<unsigned>(std::min<int64_t>(channel_tiles(kVec), INT32_MAX)),
              static_cast<unsigned>(std::min<int64_t>(batch_, 65535)));
    if (splits_ <= 1) {
      global_pool_nhwc_kernel<T, kMax, kVec, false><<<grid, kGlobalThreads, 0, stream>>>(
          x, y, nullptr, batch_, channels_, size_, size_, tile_groups(kVec));
      return;
    }
    auto* partial = static_cast<PoolAccum<T>*>(workspace);
    const int64_t chunk = (size_ + splits_ - 1) / splits_;
    grid.z = static_cast<unsigned>(splits_);
    global_pool_nhwc_kernel<T, kMax, kVec, true><<<grid, kGlobalThreads, 0, stream>>>(
        x, y, partial, batch_, channels_, size_, chunk, tile_groups(kVec));
    global_pool_nhwc_finish_kernel<T, kMax>
        <<<grid_for(planes_), kBlockSize, 0, stream>>>(partial, y, planes_, splits_, size_);
  }

  bool channels_last_ = false;
  int64_t batch_ = 0, channels_ = 0, planes_ = 0, size_ = 0;
  int64_t splits_ = 1;  // slices of the spatial positions (channels-last only)
};

}  // namespace

void register_pool_kernels(CudaKernelRegistry& r) {
  r.add("MaxPool", make_kernel<PoolKernel<true>>);
  r.add("AveragePool", make_kernel<PoolKernel<false>>);
  r.add("GlobalMaxPool", make_kernel<GlobalPoolKernel<true>>);
  r.add("GlobalAveragePool", make_kernel<GlobalPoolKernel<false>>);
}

}  // namespace kiln::cuda
