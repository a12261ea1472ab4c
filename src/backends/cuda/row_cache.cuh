// Rows held in registers: a group of threads (one warp, or a whole block for long rows) reads one
// row with a single pass over global memory (16-byte vectors where the host found the row
// aligned), reduces over the cached values and writes the result, so Softmax, LayerNorm and the
// attention scores' softmax read their input once instead of two or three times.
#pragma once

#include <cstdint>
#include <type_traits>

#include "backends/cuda/device_types.cuh"
#include "backends/cuda/reduce_ops.cuh"

namespace kiln::cuda {

// The widest row a register-cached kernel takes; longer rows use the multi-pass kernels.
constexpr int64_t kMaxCachedRow = 8192;

// A group of kThreads threads owning one row of up to kThreads * kItems values. With kVector,
// each thread reads kVec consecutive values at a time (one 16-byte load for 16-bit types): slot k
// of thread t holds column ((t + (k / kVec) * kThreads) * kVec + k % kVec), so a warp's loads are
// contiguous. The caller guarantees for kVector that the row start is aligned to kVec elements
// and that a vector starting below `n` lies inside the row's allocation.
template <typename T, int kThreads, int kItems, bool kVector>
struct CachedRow {
  using A = compute_t<T>;
  static constexpr int kVecBytes = 16;
  static constexpr int kVec = kVector ? (kVecBytes / static_cast<int>(sizeof(T)) < kItems
                                             ? kVecBytes / static_cast<int>(sizeof(T))
                                             : kItems)
                                      : 1;
  static_assert(kItems % kVec == 0, "a thread holds whole vectors");
  static constexpr int kChunks = kItems / kVec;
  struct alignas(sizeof(T) * kVec) Vec {
    T x[kVec];
  };

  A v[kItems];

  __device__ __forceinline__ static int64_t column(int lane, int k) {
    return (static_cast<int64_t>(lane) + static_cast<int64_t>(k / kVec) * kThreads) * kVec +
           k % kVec;
  }

  // Reads the row's first n values; slots past n hold `fill`.
  __device__ __forceinline__ void load(const T* __restrict__ row, int64_t n, int lane, A fill) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int64_t col0 = column(lane, c * kVec);
      if constexpr (kVector) {
        if (col0 < n) {
          const Vec in = *reinterpret_cast<const Vec*>(row + col0);
#pragma unroll
          for (int e = 0; e < kVec; ++e)
            v[c * kVec + e] = col0 + e < n ? cuda::load(in.x[e]) : fill;
        } else {
#pragma unroll
          for (int e = 0; e < kVec; ++e) v[c * kVec + e] = fill;
        }
      } else {
        v[c] = col0 < n ? cuda::load(row[col0]) : fill;
      }
    }
  }

  // Writes the first n values of the row (never past n).
  __device__ __forceinline__ void store(T* __restrict__ row, int64_t n, int lane) const {
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int64_t col0 = column(lane, c * kVec);
      if constexpr (kVector) {
        if (col0 + kVec <= n) {
          Vec out;
#pragma unroll
          for (int e = 0; e < kVec; ++e) out.x[e] = cuda::store<T>(v[c * kVec + e]);
          *reinterpret_cast<Vec*>(row + col0) = out;
        } else {
#pragma unroll
          for (int e = 0; e < kVec; ++e) {
            if (col0 + e < n) row[col0 + e] = cuda::store<T>(v[c * kVec + e]);
          }
        }
      } else {
        if (col0 < n) row[col0] = cuda::store<T>(v[c]);
      }
    }
  }
};

// Rows a block works on at once: four warps each own a row when a row fits one warp, else the
// whole block owns one.
template <int kThreads>
constexpr int kRowsPerBlock = kThreads == 32 ? 4 : 1;

// Reduces over the row's group: shuffles within a warp, shared memory across a block (every
// thread of the block must call it; `scratch` holds 32 values).
template <int kThreads, typename A, typename Op>
__device__ __forceinline__ A group_reduce(A v, Op op, A* scratch) {
  if constexpr (kThreads == 32) {
    return warp_reduce(v, op);
  } else {
    return block_reduce(v, op, scratch);
  }
}

// The threads' place: which of the block's rows it works on, and its lane in that row's group.
template <int kThreads>
struct RowPlace {
  int group, lane;
  __device__ RowPlace()
      : group(static_cast<int>(threadIdx.x) / kThreads),
        lane(static_cast<int>(threadIdx.x) % kThreads) {}
  // The first row of this thread's group and the step between its rows (a grid-stride loop).
  // A block-wide group is the whole block, so its threads always agree on the row and reach
  // block_reduce together.
  __device__ int64_t first_row() const {
    return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock<kThreads> + group;
  }
  __device__ static int64_t row_step() {
    return static_cast<int64_t>(gridDim.x) * kRowsPerBlock<kThreads>;
  }
};

// Calls f(std::integral_constant<int, kThreads>, std::integral_constant<int, kItems>) with the
// smallest configuration whose rows hold n values (n <= kMaxCachedRow).
template <typename F>
void with_row_config(int64_t n, F&& f) {
  using std::integral_constant;
  if (n <= 128) return f(integral_constant<int, 32>{}, integral_constant<int, 4>{});
  if (n <= 256) return f(integral_constant<int, 32>{}, integral_constant<int, 8>{});
  if (n <= 512) return f(integral_constant<int, 32>{}, integral_constant<int, 16>{});
  if (n <= 1024) return f(integral_constant<int, 32>{}, integral_constant<int, 32>{});
  if (n <= 2048) return f(integral_constant<int, 256>{}, integral_constant<int, 8>{});
  if (n <= 4096) return f(integral_constant<int, 512>{}, integral_constant<int, 8>{});
  return f(integral_constant<int, 1024>{}, integral_constant<int, 8>{});
}

// Blocks for `rows` rows of a configuration (the kernels loop past the grid limit).
template <int kThreads>
unsigned cached_row_grid(int64_t rows) {
  int64_t blocks = (rows + kRowsPerBlock<kThreads> - 1) / kRowsPerBlock<kThreads>;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 1048576 ? 1048576 : blocks));
}

// Whether rows of n values `ld` apart from `base` can be read as 16-byte vectors of T (the
// configuration's vector may be shorter; 16-byte alignment covers every shorter one).
inline bool rows_vectorizable(const void* base, int64_t ld, size_t element_size) {
  const auto bytes = static_cast<uint64_t>(ld) * element_size;
  return reinterpret_cast<uintptr_t>(base) % 16 == 0 && bytes % 16 == 0;
}

}  // namespace kiln::cuda
