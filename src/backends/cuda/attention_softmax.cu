// The softmax step of the GEMM attention tactic: each row of scores S (Q K^T, stored in the element
// type by the first GEMM) is read once into registers, scaled and masked in FP32, and its softmax
// P written over it in the element type. Each step rounds as the CPU kernel and the unfused
// MatMul/Mul/Add/Softmax layers do: s = round(round(S) * scale), s = round(s + mask), P = round(p).
#include "backends/cuda/attention_gemm.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/row_cache.cuh"

namespace kiln::cuda {
namespace {

static_assert(kAttentionGemmMaxKeys <= kMaxCachedRow, "a scores row fits the cached kernels");
static_assert(kScoresRowAlignment * 2 % 16 == 0, "padded 16-bit rows are 16-byte aligned");

template <typename T>
__device__ __forceinline__ float round_to(float v) {
  return load(store<T>(v));
}

// Rows r of the chunk: batch entry first_batch + r / sq, query row r % sq.
template <typename T, int kThreads, int kItems>
__global__ void __launch_bounds__(kThreads* kRowsPerBlock<kThreads>)
    attention_softmax_kernel(AttentionArgs a, T* __restrict__ scores, int64_t ld,
                             int64_t first_batch, int64_t rows) {
  using Row = CachedRow<T, kThreads, kItems, true>;
  __shared__ float scratch[32];
  const RowPlace<kThreads> place;
  const T* mask = static_cast<const T*>(a.mask);
  const float scale = a.scale;
  for (int64_t r = place.first_row(); r < rows; r += RowPlace<kThreads>::row_step()) {
    const int64_t b = first_batch + r / a.sq, i = r % a.sq;
    T* row_ptr = scores + r * ld;
    Row row;
    row.load(row_ptr, a.sk, place.lane, 0.0f);
    const T* mask_row = nullptr;
    if (mask) {
      int64_t mo = 0, rem = b;
      for (int dim = a.num_batch_dims - 1; dim >= 0; --dim) {
        mo += rem % a.batch[dim] * a.m_batch[dim];
        rem /= a.batch[dim];
      }
      mask_row = mask + mo + i * a.m_row;
    }
    float m = -INFINITY;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      const int64_t j = Row::column(place.lane, k);
      if (j >= a.sk) continue;
      float s = round_to<T>(row.v[k] * scale);
      if (mask_row) s = round_to<T>(s + load(mask_row[j * a.m_col]));
      row.v[k] = s;
      m = MaxOp{}(m, s);
    }
    m = group_reduce<kThreads>(m, MaxOp{}, scratch);
    // A row with every key masked by -inf has m = -inf and gives NaN (0/0), as the CPU kernel,
    // unless the NaN guard of PyTorch's exports (zero_nan_rows) maps NaN probabilities to 0.
    float sum = 0;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      if (Row::column(place.lane, k) >= a.sk) continue;
      row.v[k] = exp(row.v[k] - m);
      sum += row.v[k];
    }
    sum = group_reduce<kThreads>(sum, SumOp{}, scratch);
    const float inv = 1.0f / sum;
#pragma unroll
    for (int k = 0; k < kItems; ++k) {
      row.v[k] *= inv;
      if (a.zero_nan_rows && isnan(row.v[k])) row.v[k] = 0.0f;
    }
    row.store(row_ptr, a.sk, place.lane);
  }
}

template <typename T>
void launch_for(const AttentionArgs& a, T* scores, int64_t ld, int64_t first_batch, int64_t batches,
                cudaStream_t stream) {
  const int64_t rows = batches * a.sq;
  if (rows == 0) return;
  if (!rows_vectorizable(scores, ld, sizeof(T))) {
    fail(ErrorCode::kInternal, "attention scores at ", scores, " with rows of ", ld,
         " elements are not 16-byte aligned");
  }
  with_row_config(a.sk, [&](auto threads, auto items) {
    constexpr int kThreads = decltype(threads)::value, kItems = decltype(items)::value;
    attention_softmax_kernel<T, kThreads, kItems>
        <<<cached_row_grid<kThreads>(rows), kThreads * kRowsPerBlock<kThreads>, 0, stream>>>(
            a, scores, ld, first_batch, rows);
  });
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_attention_softmax(const AttentionArgs& a, DataType dtype, void* scores, int64_t ld,
                              int64_t first_batch, int64_t batches, cudaStream_t stream) {
  if (a.sk > kAttentionGemmMaxKeys) {
    fail(ErrorCode::kInternal, "attention softmax over ", a.sk, " keys; it takes up to ",
         kAttentionGemmMaxKeys);
  }
  switch (dtype) {
    case DataType::kFloat32:
      return launch_for(a, static_cast<float*>(scores), ld, first_batch, batches, stream);
    case DataType::kFloat16:
      return launch_for(a, static_cast<half_t*>(scores), ld, first_batch, batches, stream);
    case DataType::kBFloat16:
      return launch_for(a, static_cast<bf16_t*>(scores), ld, first_batch, batches, stream);
    default:
      fail(ErrorCode::kUnsupported, "the attention softmax takes float32, float16 and bfloat16, ",
           "not ", to_string(dtype));
  }
}

}  // namespace kiln::cuda
