// What the two tensor-core flash-attention kernels share (attention_flash.cu for FP16/BF16 with
// m16n8k16 products, attention_flash_tf32.cu for FP32 with TF32 m16n8k8 products): the block
// shape, asynchronous staging of K/V/mask tiles into shared memory, and the per-warp online
// softmax over a 16-row fragment of scores. Both products leave scores in the same accumulator
// layout (lane = 4 g + t holds rows g and g + 8, columns 2t and 2t + 1 of each 8-column tile), so
// the masking, softmax and output code is written once here.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_offsets.cuh"

namespace kiln::cuda::flash {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kQueryTile = 16 * kWarps;  // each warp owns 16 query rows

// Elements of T per 16-byte copy: operand rows must hold whole ones.
template <typename T>
constexpr int kVecOf = static_cast<int>(16 / sizeof(T));

// How a kernel reads the mask: none; one row for all queries (BERT's padding mask, m_row 0),
// staged per key tile as floats; a [queries, keys] tile copied to shared memory with the K/V tile
// (rows 16-byte aligned); or element by element from global memory (anything else).
enum MaskMode : int { kNoMask = 0, kKeyRowMask = 1, kTileMask = 2, kElementMask = 3 };

// Padded rows of a staged mask tile of kKT keys (16-byte aligned rows).
template <typename T, int kKT>
constexpr int kMaskLdOf = kKT + kVecOf<T>;

__device__ __forceinline__ float group_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float group_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// 2^x on the special-function unit (flushing denormals; probabilities feed reduced-precision
// products).
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// 16 bytes from global to shared memory without passing through registers; `valid` false fills
// zeros (the source must still be a mapped address).
__device__ __forceinline__ void copy_async(void* dst, const void* src, bool valid) {
  const auto d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void commit_copies() {
  asm volatile("cp.async.commit_group;\n" ::);
}
// Waits until at most N of the committed groups are still in flight.
template <int N>
__device__ __forceinline__ void wait_copies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Starts copying `rows` rows of kD elements (16-byte aligned, `ld` apart) into shared memory rows
// of kLd; rows at or past `valid` become zeros.
template <typename T, int kD, int kLd>
__device__ __forceinline__ void stage(T* dst, const T* src, int64_t ld, int rows, int64_t valid) {
  constexpr int kVec = kVecOf<T>;
  constexpr int kPerRow = kD / kVec;
  for (int e = threadIdx.x; e < rows * kPerRow; e += kThreads) {
    const int r = e / kPerRow, c = (e % kPerRow) * kVec;
    const bool in = r < valid;
    copy_async(dst + r * kLd + c, src + (in ? r : 0) * ld + c, in);
  }
}

// Stages the mask for keys j0.. into buffer `buf`: the key row as floats already in base 2
// (kKeyRowMask), or the tile of queries row0.. (kTileMask, whole 16-byte chunks: the host checked
// sk and m_row hold whole vectors).
template <typename T, int kKT>
__device__ __forceinline__ void stage_mask(int mode, const T* mask, const AttentionArgs& a,
                                           int64_t row0, int64_t j0, int buf, float* mask_row,
                                           T* mask_tile) {
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr int kVec = kVecOf<T>;
  constexpr int kMaskLd = kMaskLdOf<T, kKT>;
  if (mode == kTileMask) {
    constexpr int kChunks = kKT / kVec;
    for (int e = threadIdx.x; e < kQueryTile * kChunks; e += kThreads) {
      const int r = e / kChunks, c = (e % kChunks) * kVec;
      const bool in = row0 + r < a.sq && j0 + c < a.sk;
      copy_async(mask_tile + (buf * kQueryTile + r) * kMaskLd + c,
                 in ? mask + (row0 + r) * a.m_row + j0 + c : mask, in);
    }
  } else if (mode == kKeyRowMask) {
    for (int j = threadIdx.x; j < kKT; j += kThreads) {
      mask_row[buf * kKT + j] =
          j0 + j < a.sk ? static_cast<float>(mask[(j0 + j) * a.m_col]) * kLog2e : 0.f;
    }
  }
}

// Where a warp is in the block and which rows its fragment lanes hold.
struct WarpRows {
  int g, t;         // the fragment's row group (lane / 4) and column pair (lane % 4)
  int wr;           // the warp's first row in the query tile
  int64_t rows[2];  // the query rows of this lane's accumulator halves
};

// A block's share of the work: the operands of its batch entry (blockIdx.x / query tiles) and its
// first query row, and the rows of this lane's warp.
template <typename T>
struct BlockWork {
  const T* q;
  const T* k;
  const T* v;
  const T* mask;  // null without a mask
  T* y;
  int64_t row0;
  WarpRows w;
};

template <typename T>
__device__ __forceinline__ BlockWork<T> block_work(const AttentionArgs& a) {
  const int64_t tiles = (a.sq + kQueryTile - 1) / kQueryTile;
  const AttentionOffsets off = attention_offsets(a, blockIdx.x / tiles);
  BlockWork<T> bw;
  bw.q = static_cast<const T*>(a.q) + off.q;
  bw.k = static_cast<const T*>(a.k) + off.k;
  bw.v = static_cast<const T*>(a.v) + off.v;
  bw.mask = a.mask ? static_cast<const T*>(a.mask) + off.mask : nullptr;
  bw.y = static_cast<T*>(a.y) + off.y;
  bw.row0 = (blockIdx.x % tiles) * kQueryTile;
  const int lane = threadIdx.x % 32;
  bw.w.g = lane / 4;
  bw.w.t = lane % 4;
  bw.w.wr = threadIdx.x / 32 * 16;
  bw.w.rows[0] = bw.row0 + bw.w.wr + bw.w.g;
  bw.w.rows[1] = bw.w.rows[0] + 8;
  return bw;
}

// Adds the mask to a warp's scaled 16 x kKT scores, read the way kMode says.
template <int kMode, typename T, int kKT>
__device__ __forceinline__ void add_mask(float (&s)[kKT / 8][4], const AttentionArgs& a,
                                         const T* mask, const float* mask_row, const T* mask_tile,
                                         int buf, int64_t j0, int valid_keys, const WarpRows& w) {
  constexpr float kLog2e = 1.4426950408889634f;
  constexpr int kMaskLd = kMaskLdOf<T, kKT>;
#pragma unroll
  for (int n = 0; n < kKT / 8; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int col = n * 8 + 2 * w.t + (i & 1);
      if constexpr (kMode == kKeyRowMask) {
        s[n][i] += mask_row[buf * kKT + col];
      } else if constexpr (kMode == kTileMask) {
        s[n][i] += static_cast<float>(
                       mask_tile[(buf * kQueryTile + w.wr + w.g + 8 * (i / 2)) * kMaskLd + col]) *
                   kLog2e;
      } else {
        const int64_t row = w.rows[i / 2];
        if (row < a.sq && col < valid_keys) {
          s[n][i] += static_cast<float>(mask[row * a.m_row + (j0 + col) * a.m_col]) * kLog2e;
        }
      }
    }
  }
}

// Scales a warp's 16 x kKT score fragment (to base 2), adds the mask, sets keys past the end to
// -inf, and returns each row half's maximum in mx. Each step is its own straight-line loop, the
// mask chosen once per tile and the key bound checked only on a partial tile: the per-score
// instruction count matters as much as the products here.
template <typename T, int kKT>
__device__ __forceinline__ void mask_scores(float (&s)[kKT / 8][4], float (&mx)[2], int mode,
                                            const AttentionArgs& a, const T* mask,
                                            const float* mask_row, const T* mask_tile, int buf,
                                            int64_t j0, int valid_keys, float scale2,
                                            const WarpRows& w) {
#pragma unroll
  for (int n = 0; n < kKT / 8; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) s[n][i] *= scale2;
  }
  if (mode == kKeyRowMask) {
    add_mask<kKeyRowMask, T, kKT>(s, a, mask, mask_row, mask_tile, buf, j0, valid_keys, w);
  } else if (mode == kTileMask) {
    add_mask<kTileMask, T, kKT>(s, a, mask, mask_row, mask_tile, buf, j0, valid_keys, w);
  } else if (mode == kElementMask) {
    add_mask<kElementMask, T, kKT>(s, a, mask, mask_row, mask_tile, buf, j0, valid_keys, w);
  }
  if (valid_keys < kKT) {
#pragma unroll
    for (int n = 0; n < kKT / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        if (n * 8 + 2 * w.t + (i & 1) >= valid_keys) s[n][i] = -INFINITY;
      }
    }
  }
  mx[0] = mx[1] = -INFINITY;
#pragma unroll
  for (int n = 0; n < kKT / 8; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) mx[i / 2] = fmaxf(mx[i / 2], s[n][i]);
  }
}

// The online-softmax step for a tile whose row maxima are mx: the new running maxima m, the
// running sums l and output accumulators rescaled to them, and the base each row's exponentials
// take (0 while a row has no finite score, so the probabilities are 0, not NaN).
template <int kD>
__device__ __forceinline__ void rescale_rows(float (&m)[2], float (&l)[2], float (&acc)[kD / 8][4],
                                             const float (&mx)[2], float (&base)[2]) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float m_new = fmaxf(m[h], group_max(mx[h]));
    base[h] = m_new == -INFINITY ? 0.f : m_new;
    const float correction = fast_exp2(m[h] - base[h]);
    l[h] *= correction;
#pragma unroll
    for (int n = 0; n < kD / 8; ++n) {
      acc[n][2 * h] *= correction;
      acc[n][2 * h + 1] *= correction;
    }
    m[h] = m_new;
  }
}

// Two neighbouring output elements in T.
template <typename T>
__device__ __forceinline__ void store_pair(T* p, float lo, float hi) {
  if constexpr (std::is_same_v<T, float>) {
    *reinterpret_cast<float2*>(p) = make_float2(lo, hi);
  } else if constexpr (std::is_same_v<T, __half>) {
    *reinterpret_cast<__half2*>(p) = __floats2half2_rn(lo, hi);
  } else {
    *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(lo, hi);
  }
}

// Divides each row's accumulators by its sum and writes the rows inside the query range.
template <typename T, int kD>
__device__ __forceinline__ void write_rows(const float (&acc)[kD / 8][4], const float (&l)[2],
                                           const AttentionArgs& a, T* y, const WarpRows& w) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float total = group_sum(l[h]);
    const int64_t row = w.rows[h];
    if (row >= a.sq) continue;
    // Every key masked with -inf: 0 / 0 = NaN as the unfused softmax gives, unless the NaN guard
    // of PyTorch's exports (zero_nan_rows) maps those rows to 0.
    const bool zero = a.zero_nan_rows && !(total > 0.f);
    const float inv = zero ? 0.f : 1.f / total;
    T* yr = y + row * a.y_row + 2 * w.t;
#pragma unroll
    for (int n = 0; n < kD / 8; ++n)
      store_pair(yr + n * 8, acc[n][2 * h] * inv, acc[n][2 * h + 1] * inv);
  }
}

// Shared memory of a block: the query tile, double-buffered K and V tiles of kKT rows (rows of
// kLd elements), and the largest mask stage (a [2][kQueryTile][kMaskLdOf] tile or a [2][kKT] key
// row of floats).
template <typename T, int kKT, int kLd>
constexpr size_t shared_bytes(int mask_mode) {
  const size_t base = sizeof(T) * static_cast<size_t>((kQueryTile + 4 * kKT) * kLd);
  if (mask_mode == kTileMask) return base + sizeof(T) * 2 * kQueryTile * kMaskLdOf<T, kKT>;
  return base + sizeof(float) * 2 * kKT;
}

}  // namespace kiln::cuda::flash
