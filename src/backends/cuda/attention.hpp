// The fused attention kernel (ScaledDotProductAttention): Y = softmax(scale * Q K^T + mask) V
// without materialising the scores. Flash-attention style: one thread block per (batch entry, tile
// of query rows); K and V stream through shared memory a tile of keys at a time, and each query
// row keeps a running max, sum and output accumulator in float (double for float64) registers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kiln/types.hpp"

namespace kiln::cuda {

struct AttentionArgs {
  static constexpr int kMaxBatchDims = 6;

  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* mask = nullptr;  // optional
  void* y = nullptr;           // [batch..., sq, dv]
  int64_t sq = 0, sk = 0, d = 0, dv = 0;
  float scale = 1.0f;
  // A row whose probabilities are NaN (every key masked with -inf) gives 0 instead of NaN.
  bool zero_nan_rows = false;
  // Batch dims of the output and each operand's element stride along them (0 where broadcast).
  int num_batch_dims = 0;
  int64_t batch[kMaxBatchDims] = {};
  int64_t q_batch[kMaxBatchDims] = {}, k_batch[kMaxBatchDims] = {}, v_batch[kMaxBatchDims] = {},
          m_batch[kMaxBatchDims] = {}, y_batch[kMaxBatchDims] = {};
  // Strides of Q as [sq, d], K as [sk, d] (whichever way it is stored), V as [sk, dv], the mask
  // as [sq, sk], Y as [sq, dv]. The fused and GEMM tactics write Y packed (y_col 1, y_row dv,
  // batch strides of whole [sq, dv] matrices); the flash kernel honours any of its strides.
  int64_t q_row = 0, q_col = 0, k_row = 0, k_col = 0, v_row = 0, v_col = 0, m_row = 0, m_col = 0,
          y_row = 0, y_col = 1;
  // Elements from the bound input pointers to Q, K and V (views of their inputs); q, k and v
  // above already include them when a kernel runs. Kept for the tactics' alignment rules.
  int64_t q_offset = 0, k_offset = 0, v_offset = 0;
  int64_t batches = 1;
};

// Largest value head size (Dv) the kernel takes.
constexpr int64_t kAttentionMaxValueDim = 256;

// Shared memory one block needs; prepare_attention() checks it against the device and raises the
// kernel's limit when it is above the default 48 KiB. Throws Error(kUnsupported) naming `what`.
size_t attention_shared_bytes(DataType dtype, int64_t d, int64_t dv);
void prepare_attention(DataType dtype, int64_t d, int64_t dv, int device, const std::string& what);

void launch_attention(const AttentionArgs& args, DataType dtype, cudaStream_t stream);

// The tensor-core (mma.sync) flash-attention kernels, attention_flash.cu: FP16/BF16, or FP32
// with TF32 products where `allow_tf32` (attention_flash_tf32.cu); D = Dv of 32, 64 or 128, head
// dim innermost and rows 16-byte aligned. The reason they do not apply, or "".
std::string flash_attention_unsupported_reason(const AttentionArgs& args, DataType dtype,
                                               bool allow_tf32);
// Two variants: `dense` caps registers so more blocks share an SM (some spilling), the other
// keeps every value in registers; which is faster depends on the shape.
// Raises the kernel's shared-memory limit (once per process is enough; cheap to repeat).
void prepare_flash_attention(const AttentionArgs& args, DataType dtype, bool dense);
// Base pointers must be 16-byte aligned (checked by the caller).
void launch_flash_attention(const AttentionArgs& args, DataType dtype, bool dense,
                            cudaStream_t stream);
// The FP32 (TF32) kernel behind the two above; `mask_mode` is flash::MaskMode.
void prepare_flash_attention_tf32(const AttentionArgs& args, bool dense);
void launch_flash_attention_tf32(const AttentionArgs& args, bool dense, int mask_mode,
                                 cudaStream_t stream);

}  // namespace kiln::cuda
