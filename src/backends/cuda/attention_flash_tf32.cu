// The flash-attention kernel for FP32 layers that allow TF32 products (the default for FP32 on
// the GPU, as for cuBLASLt GEMMs): the scheme of attention_flash.cu (four warps of 16 query rows,
// K/V tiles double-buffered through shared memory with cp.async, online softmax in registers)
// with mma.sync m16n8k8 TF32 products. Operands are rounded to TF32 (round to nearest) as each
// fragment is read from shared memory; accumulation, softmax and output stay FP32.
//
// The probabilities need no shuffle to become the second product's A operand: a lane holds the
// scores of keys 2t and 2t + 1 of each 8-key tile, and the m16n8k8 A fragment wants columns t and
// t + 4. Reading A's column t as key 2t and column t + 4 as key 2t + 1 only permutes the keys of
// the tile, which the sum over keys does not see, as long as V's rows are read in the same order
// (B's rows t and t + 4 are V's rows 2t and 2t + 1).
#include <cstdint>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_flash_common.cuh"
#include "backends/cuda/cuda_check.hpp"

namespace kiln::cuda {
namespace {

using namespace flash;  // NOLINT: the shared block shape and helpers

__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

// D += A B for a 16x8 A (row-major fragment), 8x8 B (column-major fragment), TF32 in, float D.
__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// kKT keys per tile (fewer for 128-wide heads: FP32 tiles take twice the shared memory of 16-bit
// ones); kMinBlocks as in attention_flash.cu, the register budget the tuner's "dense" variant
// cuts for more blocks per SM.
template <int kD, int kKT, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    flash_attention_tf32_kernel(AttentionArgs a, int mask_mode) {
  // Padded rows: a fragment read (8 rows g x 4 columns t, or rows 2t/2t+1 x 8 columns g) then
  // touches 32 distinct banks.
  constexpr int kLd = kD + 4;
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ __align__(16) unsigned char shared_raw[];
  float* qs = reinterpret_cast<float*>(shared_raw);
  float* ks = qs + kQueryTile * kLd;  // two buffers of kKT rows each
  float* vs = ks + 2 * kKT * kLd;
  void* mask_stage = vs + 2 * kKT * kLd;
  float* mask_row = static_cast<float*>(mask_stage);
  float* mask_tile = static_cast<float*>(mask_stage);

  const BlockWork<float> work = block_work<float>(a);
  const float* q = work.q;
  const float* k = work.k;
  const float* v = work.v;
  const float* mask = work.mask;
  float* y = work.y;
  const int64_t row0 = work.row0;
  const WarpRows& w = work.w;
  const int g = w.g, t = w.t;

  auto stage_keys = [&](int buf, int64_t j0) {
    stage<float, kD, kLd>(ks + buf * kKT * kLd, k + j0 * a.k_row, a.k_row, kKT, a.sk - j0);
    stage<float, kD, kLd>(vs + buf * kKT * kLd, v + j0 * a.v_row, a.v_row, kKT, a.sk - j0);
    stage_mask<float, kKT>(mask_mode, mask, a, row0, j0, buf, mask_row, mask_tile);
  };
  stage<float, kD, kLd>(qs, q + row0 * a.q_row, a.q_row, kQueryTile, a.sq - row0);
  stage_keys(0, 0);
  commit_copies();

  const float scale2 = a.scale * kLog2e;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float acc[kD / 8][4];
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  const bool active = row0 + w.wr < a.sq;
  uint32_t qa[kD / 8][4];  // A fragments of the warp's 16 query rows, one per 8-wide k-step

  const int64_t key_tiles = (a.sk + kKT - 1) / kKT;
  for (int64_t jt = 0; jt < key_tiles; ++jt) {
    const int buf = static_cast<int>(jt & 1);
    const int64_t j0 = jt * kKT;
    if (jt + 1 < key_tiles) stage_keys(buf ^ 1, j0 + kKT);
    commit_copies();
    wait_copies<1>();  // everything but the tile just requested has landed
    __syncthreads();
    if (jt == 0) {
      const float* q0 = qs + (w.wr + g) * kLd + t;
#pragma unroll
      for (int kk = 0; kk < kD / 8; ++kk) {
        qa[kk][0] = to_tf32(q0[kk * 8]);
        qa[kk][1] = to_tf32(q0[8 * kLd + kk * 8]);
        qa[kk][2] = to_tf32(q0[kk * 8 + 4]);
        qa[kk][3] = to_tf32(q0[8 * kLd + kk * 8 + 4]);
      }
    }
    const float* kb = ks + buf * kKT * kLd;
    const float* vb = vs + buf * kKT * kLd;
    // Warps whose rows all lie past the last query (the tail tile) only help stage and sync.
    if (!active) {
      __syncthreads();
      continue;
    }
    const int valid_keys = a.sk - j0 < kKT ? static_cast<int>(a.sk - j0) : kKT;

    float s[kKT / 8][4];
#pragma unroll
    for (int n = 0; n < kKT / 8; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
      if (n * 8 >= valid_keys) continue;  // keys past the end: their scores become -inf below
      const float* kr = kb + (n * 8 + g) * kLd + t;  // B = K^T: column g is key n * 8 + g
#pragma unroll
      for (int kk = 0; kk < kD / 8; ++kk) {
        mma_tf32(s[n], qa[kk], to_tf32(kr[kk * 8]), to_tf32(kr[kk * 8 + 4]));
      }
    }
    float mx[2], base[2];
    mask_scores<float, kKT>(s, mx, mask_mode, a, mask, mask_row, mask_tile, buf, j0, valid_keys,
                            scale2, w);
    rescale_rows<kD>(m, l, acc, mx, base);

#pragma unroll
    for (int n = 0; n < kKT / 8; ++n) {
      if (n * 8 >= valid_keys) break;  // probabilities of keys past the end are 0
      float* c = s[n];
      c[0] = fast_exp2(c[0] - base[0]);
      c[1] = fast_exp2(c[1] - base[0]);
      c[2] = fast_exp2(c[2] - base[1]);
      c[3] = fast_exp2(c[3] - base[1]);
      l[0] += c[0] + c[1];
      l[1] += c[2] + c[3];
      // A's columns t and t + 4 are this tile's keys 2t and 2t + 1 (see the top of the file).
      const uint32_t pa[4] = {to_tf32(c[0]), to_tf32(c[2]), to_tf32(c[1]), to_tf32(c[3])};
      const float* v0 = vb + (n * 8 + 2 * t) * kLd + g;  // V rows 2t and 2t + 1, column g
#pragma unroll
      for (int col = 0; col < kD / 8; ++col) {
        mma_tf32(acc[col], pa, to_tf32(v0[col * 8]), to_tf32(v0[kLd + col * 8]));
      }
    }
    __syncthreads();  // this buffer is refilled by the copies the next iteration starts
  }
  write_rows<float, kD>(acc, l, a, y, w);
}

template <int kD, int kKT>
size_t bytes_for(int mask_mode) {
  return shared_bytes<float, kKT, kD + 4>(mask_mode);
}

// Per head size, the two tactics: all registers with the larger key tile, and ("dense") a smaller
// key tile and register budget so more blocks share an SM.
template <typename F>
auto with_tf32_kernel(int64_t d, bool dense, int mask_mode, F&& f) {
  switch (d) {
    case 32:
      return dense ? f(flash_attention_tf32_kernel<32, 64, 4>, bytes_for<32, 64>(mask_mode))
                   : f(flash_attention_tf32_kernel<32, 64, 2>, bytes_for<32, 64>(mask_mode));
    case 64:
      return dense ? f(flash_attention_tf32_kernel<64, 32, 4>, bytes_for<64, 32>(mask_mode))
                   : f(flash_attention_tf32_kernel<64, 64, 1>, bytes_for<64, 64>(mask_mode));
    default:
      return dense ? f(flash_attention_tf32_kernel<128, 16, 3>, bytes_for<128, 16>(mask_mode))
                   : f(flash_attention_tf32_kernel<128, 32, 1>, bytes_for<128, 32>(mask_mode));
  }
}

}  // namespace

void prepare_flash_attention_tf32(const AttentionArgs& a, bool dense) {
  with_tf32_kernel(a.d, dense, kTileMask, [&](auto kernel, size_t bytes) {
    KILN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    return 0;
  });
}

void launch_flash_attention_tf32(const AttentionArgs& a, bool dense, int mask_mode,
                                 cudaStream_t stream) {
  const int64_t blocks = (a.sq + kQueryTile - 1) / kQueryTile * a.batches;
  if (blocks == 0) return;
  with_tf32_kernel(a.d, dense, mask_mode, [&](auto kernel, size_t bytes) {
    kernel<<<static_cast<unsigned>(blocks), kThreads, bytes, stream>>>(a, mask_mode);
    KILN_CUDA_CHECK(cudaGetLastError());
    return 0;
  });
}

}  // namespace kiln::cuda
