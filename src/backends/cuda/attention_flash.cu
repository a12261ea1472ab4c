// The tensor-core attention kernel for FP16/BF16 heads of 32, 64 or 128 (flash-attention 2 style):
// a block of four warps owns 64 query rows of one batch entry, each warp 16 of them. K and V stream
// through shared memory 64 keys at a time (cp.async, double-buffered: the next tile loads while
// this one is used); each warp takes its operand fragments with ldmatrix, computes its 16 x 64
// scores with mma.sync (m16n8k16, float accumulators), applies the scale and mask (a mask with
// one row for all queries is staged per tile), updates its rows' running
// max and sum (online softmax, base-2 exponentials), and multiplies the probabilities, rounded to
// the element type in registers (the score fragment is already laid out as the next product's A
// operand), by V into float output accumulators. Scores never leave registers. FP32 layers whose
// matrix work may use TF32 run the same scheme with TF32 products (attention_flash_tf32.cu); the
// host functions here serve both.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_flash_common.cuh"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/flash_attention_heads.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

using namespace flash;  // NOLINT: the shared block shape and helpers

constexpr int kKeyTile = 64;
constexpr int kVec = 8;  // 16-bit elements per 16-byte load

template <typename T>
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
  if constexpr (std::is_same_v<T, __half>) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  } else {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
}

// D += A B for a 16x16 A (row-major fragment), 16x8 B (column-major fragment), float D.
template <typename T>
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Four 8x8 matrices of 16-bit values from shared memory, lanes 8m..8m+7 giving the row addresses
// of matrix m; each lane gets (row lane / 4, columns 2 (lane % 4), +1) of each, or with kTrans the
// transposed element pair (rows 2 (lane % 4), +1 of column lane / 4).
template <bool kTrans>
__device__ __forceinline__ void load_matrices(uint32_t (&r)[4], const void* row) {
  const auto a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (kTrans) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  }
}

// kMinBlocks: blocks per SM the register budget is cut for (more warps to hide latency against
// some spilling); the tuner times both variants.
template <typename T, int kD, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    flash_attention_kernel(AttentionArgs a, int mask_mode) {
  constexpr int kLd = kD + 8;  // padded rows: the 8 rows of an 8x8 matrix hit distinct banks
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* qs = reinterpret_cast<T*>(shared_raw);
  T* ks = qs + kQueryTile * kLd;    // two buffers of kKeyTile rows: the next tile loads while
  T* vs = ks + 2 * kKeyTile * kLd;  // this one is used
  // kKeyRowMask: [2][kKeyTile] floats; kTileMask: [2][kQueryTile][kMaskLdOf] elements.
  void* mask_stage = vs + 2 * kKeyTile * kLd;
  float* mask_row = static_cast<float*>(mask_stage);
  T* mask_tile = static_cast<T*>(mask_stage);

  const BlockWork<T> work = block_work<T>(a);
  const T* q = work.q;
  const T* k = work.k;
  const T* v = work.v;
  const T* mask = work.mask;
  T* y = work.y;
  const int64_t row0 = work.row0;
  const WarpRows& w = work.w;
  const int lane = threadIdx.x % 32;
  const int lm = lane / 8, lr = lane % 8;  // the matrix and row this lane addresses in ldmatrix

  auto stage_keys = [&](int buf, int64_t j0) {
    stage<T, kD, kLd>(ks + buf * kKeyTile * kLd, k + j0 * a.k_row, a.k_row, kKeyTile, a.sk - j0);
    stage<T, kD, kLd>(vs + buf * kKeyTile * kLd, v + j0 * a.v_row, a.v_row, kKeyTile, a.sk - j0);
    stage_mask<T, kKeyTile>(mask_mode, mask, a, row0, j0, buf, mask_row, mask_tile);
  };
  stage<T, kD, kLd>(qs, q + row0 * a.q_row, a.q_row, kQueryTile, a.sq - row0);
  stage_keys(0, 0);
  commit_copies();

  const float scale2 = a.scale * kLog2e;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float acc[kD / 8][4];
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  const bool active = row0 + w.wr < a.sq;
  uint32_t qa[kD / 16][4];

  const int64_t key_tiles = (a.sk + kKeyTile - 1) / kKeyTile;
  for (int64_t jt = 0; jt < key_tiles; ++jt) {
    const int buf = static_cast<int>(jt & 1);
    const int64_t j0 = jt * kKeyTile;
    if (jt + 1 < key_tiles) stage_keys(buf ^ 1, j0 + kKeyTile);
    commit_copies();
    wait_copies<1>();  // everything but the tile just requested has landed
    __syncthreads();
    if (jt == 0) {
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk)
        load_matrices<false>(qa[kk],
                             qs + (w.wr + (lm & 1) * 8 + lr) * kLd + kk * 16 + (lm >> 1) * 8);
    }
    const T* kb = ks + buf * kKeyTile * kLd;
    const T* vb = vs + buf * kKeyTile * kLd;
    // Warps whose rows all lie past the last query (the tail tile) only help stage and sync.
    if (!active) {
      __syncthreads();
      continue;
    }
    const int valid_keys = a.sk - j0 < kKeyTile ? static_cast<int>(a.sk - j0) : kKeyTile;

    float s[kKeyTile / 8][4];
#pragma unroll
    for (int n = 0; n < kKeyTile / 8; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
      if (n * 8 >= valid_keys) continue;  // keys past the end: their scores become -inf below
#pragma unroll
      for (int kk = 0; kk < kD / 16; kk += 2) {
        uint32_t kf[4];  // B fragments of K^T for k-steps kk and kk + 1
        load_matrices<false>(kf, kb + (n * 8 + lr) * kLd + kk * 16 + lm * 8);
        mma<T>(s[n], qa[kk], kf[0], kf[1]);
        mma<T>(s[n], qa[kk + 1], kf[2], kf[3]);
      }
    }
    float mx[2], base[2];
    mask_scores<T, kKeyTile>(s, mx, mask_mode, a, mask, mask_row, mask_tile, buf, j0, valid_keys,
                             scale2, w);
    rescale_rows<kD>(m, l, acc, mx, base);

#pragma unroll
    for (int kt = 0; kt < kKeyTile / 16; ++kt) {
      if (kt * 16 >= valid_keys) break;  // probabilities of keys past the end are 0
      uint32_t pa[4];
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float* c = s[2 * kt + half];
        c[0] = fast_exp2(c[0] - base[0]);
        c[1] = fast_exp2(c[1] - base[0]);
        c[2] = fast_exp2(c[2] - base[1]);
        c[3] = fast_exp2(c[3] - base[1]);
        l[0] += c[0] + c[1];
        l[1] += c[2] + c[3];
        pa[2 * half] = pack<T>(c[0], c[1]);
        pa[2 * half + 1] = pack<T>(c[2], c[3]);
      }
#pragma unroll
      for (int n = 0; n < kD / 8; n += 2) {
        uint32_t vf[4];  // B fragments of V for output column tiles n and n + 1
        load_matrices<true>(vf, vb + (kt * 16 + (lm & 1) * 8 + lr) * kLd + (n + (lm >> 1)) * 8);
        mma<T>(acc[n], pa, vf[0], vf[1]);
        mma<T>(acc[n + 1], pa, vf[2], vf[3]);
      }
    }
    __syncthreads();  // this buffer is refilled by the copies the next iteration starts
  }
  write_rows<T, kD>(acc, l, a, y, w);
}

template <typename T, int kD>
size_t bytes_for(int mask_mode) {
  return shared_bytes<T, kKeyTile, kD + 8>(mask_mode);
}

template <typename F>
auto with_flash_kernel(DataType dtype, int64_t d, bool dense, int mask_mode, F&& f) {
  auto by_dim = [&](auto tag) {
    using T = decltype(tag);
    switch (d) {
      case 32:
        return dense ? f(flash_attention_kernel<T, 32, 4>, bytes_for<T, 32>(mask_mode))
                     : f(flash_attention_kernel<T, 32, 1>, bytes_for<T, 32>(mask_mode));
      case 64:
        return dense ? f(flash_attention_kernel<T, 64, 4>, bytes_for<T, 64>(mask_mode))
                     : f(flash_attention_kernel<T, 64, 1>, bytes_for<T, 64>(mask_mode));
      default:
        return dense ? f(flash_attention_kernel<T, 128, 2>, bytes_for<T, 128>(mask_mode))
                     : f(flash_attention_kernel<T, 128, 1>, bytes_for<T, 128>(mask_mode));
    }
  };
  if (dtype == DataType::kFloat16) return by_dim(__half{});
  return by_dim(__nv_bfloat16{});
}

// Elements per 16-byte copy of `dtype`'s kernel: operand rows and offsets hold whole ones.
int64_t vector_of(DataType dtype) {
  return dtype == DataType::kFloat32 ? kVecOf<float> : kVec;
}

int mask_mode_of(const AttentionArgs& a, int64_t vec) {
  if (!a.mask) return kNoMask;
  if (a.m_row == 0) return kKeyRowMask;
  bool tile = a.m_col == 1 && a.m_row % vec == 0 && a.sk % vec == 0 &&
              reinterpret_cast<uintptr_t>(a.mask) % 16 == 0;
  for (int i = 0; i < a.num_batch_dims; ++i) tile = tile && a.m_batch[i] % vec == 0;
  return tile ? kTileMask : kElementMask;
}

}  // namespace

std::string flash_attention_unsupported_reason(const AttentionArgs& a, DataType dtype,
                                               bool allow_tf32) {
  if (!flash_attention_dtype(dtype, allow_tf32)) {
    return dtype == DataType::kFloat32
               ? std::string("float32 runs it with TF32 products, which this layer does not allow")
               : cat("it takes float16, bfloat16 and float32 (as TF32), not ", to_string(dtype));
  }
  if (!flash_attention_heads(a.d, a.dv)) {
    return cat("it takes heads of 32, 64 or 128 with D = Dv, not ", a.d, "/", a.dv);
  }
  if (a.q_col != 1 || a.k_col != 1 || a.v_col != 1 || a.y_col != 1) {
    return "Q, K, V and Y must be stored with the head dim innermost";
  }
  const int64_t vec = vector_of(dtype);
  auto whole = [vec](int64_t elements) { return elements % vec == 0; };
  bool aligned = whole(a.q_row) && whole(a.k_row) && whole(a.v_row) && whole(a.y_row) &&
                 whole(a.q_offset) && whole(a.k_offset) && whole(a.v_offset);
  for (int i = 0; i < a.num_batch_dims; ++i) {
    aligned = aligned && whole(a.q_batch[i]) && whole(a.k_batch[i]) && whole(a.v_batch[i]) &&
              whole(a.y_batch[i]);
  }
  if (!aligned) return "its rows are not 16-byte aligned";
  const int64_t tiles = (a.sq + kQueryTile - 1) / kQueryTile;
  if (tiles * a.batches > 0x7fffffff) return "the grid would be too large";
  return "";
}

void prepare_flash_attention(const AttentionArgs& a, DataType dtype, bool dense) {
  if (dtype == DataType::kFloat32) return prepare_flash_attention_tf32(a, dense);
  // The largest shared-memory need: the mask pointer (and so the mode) is only known at launch.
  with_flash_kernel(dtype, a.d, dense, kTileMask, [&](auto kernel, size_t bytes) {
    KILN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    return 0;
  });
}

void launch_flash_attention(const AttentionArgs& a, DataType dtype, bool dense,
                            cudaStream_t stream) {
  const int64_t blocks = (a.sq + kQueryTile - 1) / kQueryTile * a.batches;
  if (blocks == 0) return;
  const int mask_mode = mask_mode_of(a, vector_of(dtype));
  if (dtype == DataType::kFloat32) return launch_flash_attention_tf32(a, dense, mask_mode, stream);
  with_flash_kernel(dtype, a.d, dense, mask_mode, [&](auto kernel, size_t bytes) {
    kernel<<<static_cast<unsigned>(blocks), kThreads, bytes, stream>>>(a, mask_mode);
    KILN_CUDA_CHECK(cudaGetLastError());
    return 0;
  });
}

}  // namespace kiln::cuda
