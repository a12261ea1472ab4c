// CUDA Softmax and LogSoftmax along one axis, or (coerce_2d, opset < 13 models) along all axes from
// `axis` on. Numerically stable (the row maximum is subtracted before exp), FP32 math for 16-bit
// data. Contiguous rows of up to kMaxCachedRow values are read once into registers (row_cache.cuh);
// longer rows get a block each and three passes; rows strided by an inner size a thread per column.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/row_cache.cuh"
#include "backends/cuda/row_launch.hpp"

namespace kiln::cuda {
namespace {

template <typename T>
constexpr bool kSoftmaxType = is_float_v<T>;

// One block per contiguous row of n values.
template <typename T, bool kLog>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                    int64_t n) {
  using A = compute_t<T>;
  __shared__ A scratch[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    A m = -INFINITY;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = MaxOp{}(m, load(xr[i]));
    m = block_reduce(m, MaxOp{}, scratch);
    A s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += exp(load(xr[i]) - m);
    s = block_reduce(s, SumOp{}, scratch);
    if constexpr (kLog) {
      A log_s = log(s);
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        yr[i] = store<T>(load(xr[i]) - m - log_s);
      }
    } else {
      A inv = A(1) / s;
      for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        yr[i] = store<T>(exp(load(xr[i]) - m) * inv);
      }
    }
  }
}

// One row per warp (or per block for long rows), read once: max, exponentials and their sum come
// from the cached values.
template <typename T, int kThreads, int kItems, bool kVector, bool kLog>
__global__ void __launch_bounds__(kThreads* kRowsPerBlock<kThreads>)
    softmax_cached_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t n) {
  using Row = CachedRow<T, kThreads, kItems, kVector>;
  using A = typename Row::A;
  __shared__ A scratch[32];
  const RowPlace<kThreads> place;
  for (int64_t r = place.first_row(); r < rows; r += RowPlace<kThreads>::row_step()) {
    Row row;
    row.load(x + r * n, n, place.lane, -INFINITY);
    A m = -INFINITY;
#pragma unroll
    for (int k = 0; k < kItems; ++k) m = MaxOp{}(m, row.v[k]);
    m = group_reduce<kThreads>(m, MaxOp{}, scratch);
    A s = 0;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      if (Row::column(place.lane, k) < n) s += exp(row.v[k] - m);
    }
    s = group_reduce<kThreads>(s, SumOp{}, scratch);
    if constexpr (kLog) {
      const A log_s = log(s);
#pragma unroll
      for (int k = 0; k < kItems; ++k) row.v[k] = row.v[k] - m - log_s;
    } else {
      const A inv = A(1) / s;
#pragma unroll
      for (int k = 0; k < kItems; ++k) row.v[k] = exp(row.v[k] - m) * inv;
    }
    row.store(y + r * n, n, place.lane);
  }
}

template <typename T, bool kLog>
void launch_softmax_cached(const T* x, T* y, int64_t rows, int64_t n, cudaStream_t stream) {
  const bool vector = rows_vectorizable(x, n, sizeof(T)) && rows_vectorizable(y, n, sizeof(T));
  with_row_config(n, [&](auto threads, auto items) {
    constexpr int kThreads = decltype(threads)::value, kItems = decltype(items)::value;
    const unsigned grid = cached_row_grid<kThreads>(rows);
    const unsigned block = kThreads * kRowsPerBlock<kThreads>;
    if (vector) {
      softmax_cached_kernel<T, kThreads, kItems, true, kLog>
          <<<grid, block, 0, stream>>>(x, y, rows, n);
    } else {
      softmax_cached_kernel<T, kThreads, kItems, false, kLog>
          <<<grid, block, 0, stream>>>(x, y, rows, n);
    }
  });
}

// One thread per (outer, inner) column of n values `inner` apart.
template <typename T, bool kLog>
__global__ void softmax_columns_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t outer,
                                       int64_t n, int64_t inner) {
  using A = compute_t<T>;
  int64_t columns = outer * inner;
  for (int64_t c = global_index(); c < columns; c += global_stride()) {
    int64_t base = (c / inner) * n * inner + c % inner;
    A m = -INFINITY;
    for (int64_t i = 0; i < n; ++i) m = MaxOp{}(m, load(x[base + i * inner]));
    A s = 0;
    for (int64_t i = 0; i < n; ++i) s += exp(load(x[base + i * inner]) - m);
    A log_s = log(s), inv = A(1) / s;
    for (int64_t i = 0; i < n; ++i) {
      A v = load(x[base + i * inner]) - m;
      y[base + i * inner] = store<T>(kLog ? v - log_s : exp(v) * inv);
    }
  }
}

template <bool kLog>
class SoftmaxKernel final : public CudaKernel {
 public:
  explicit SoftmaxKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!kSoftmaxType<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    auto rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = ctx.node.attrs.get_int("axis", -1);
    bool coerce = ctx.node.attrs.get_int("coerce_2d", 0) != 0;
    if (axis < 0) axis += rank;
    if (rank > 0 && (axis < 0 || axis >= rank)) {
      ctx.fail(ErrorCode::kInvalidArgument, "axis ", ctx.node.attrs.get_int("axis", -1),
               " is out of range for rank ", rank);
    }
    outer_ = n_ = inner_ = 1;
    for (int64_t i = 0; i < axis; ++i) outer_ *= x.shape[i];
    if (coerce) {
      for (int64_t i = axis; i < rank; ++i) n_ *= x.shape[i];
    } else if (rank > 0) {
      n_ = x.shape[axis];
      for (int64_t i = axis + 1; i < rank; ++i) inner_ *= x.shape[i];
    }
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    if (x.numel() == 0) return;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kSoftmaxType<T>) {
        const T* xp = x.as<const T>();
        T* yp = ctx.outputs[0].as<T>();
        // float64 keeps the multi-pass kernels: its cached rows would need twice the registers.
        constexpr bool kCacheable = !std::is_same_v<T, double>;
        if (kCacheable && inner_ == 1 && n_ <= kMaxCachedRow) {
          if constexpr (kCacheable) launch_softmax_cached<T, kLog>(xp, yp, outer_, n_, ctx.stream);
        } else if (inner_ == 1) {
          softmax_rows_kernel<T, kLog>
              <<<row_grid(outer_), row_block_size(n_), 0, ctx.stream>>>(xp, yp, outer_, n_);
        } else {
          softmax_columns_kernel<T, kLog><<<grid_for(outer_ * inner_), kBlockSize, 0, ctx.stream>>>(
              xp, yp, outer_, n_, inner_);
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  int64_t outer_ = 1, n_ = 1, inner_ = 1;
};

}  // namespace

void register_softmax_kernels(CudaKernelRegistry& r) {
  r.add("Softmax", make_kernel<SoftmaxKernel<false>>);
  r.add("LogSoftmax", make_kernel<SoftmaxKernel<true>>);
}

}  // namespace kiln::cuda
