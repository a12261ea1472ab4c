// The tensor-core attention tactic for ScaledDotProductAttention: S = Q K^T as one cuBLASLt
// strided-batched GEMM (FP32 accumulation) into the workspace, a row softmax over S (scale and
// additive mask in FP32, P rounded to the element type and written over S), then Y = P V as a
// second strided-batched GEMM. The batch runs in chunks so the scores fit kAttentionScoresBudget.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/matmul_cublaslt.hpp"

namespace kiln::cuda {

// Workspace the scores of one chunk of the batch may take.
constexpr size_t kAttentionScoresBudget = size_t{256} << 20;

// The longest key sequence the tactic's softmax takes (its rows are cached in registers).
constexpr int64_t kAttentionGemmMaxKeys = 8192;

// Scores rows are padded to this many elements, so every row and batch entry of S is 16-byte
// aligned for cuBLASLt and for the softmax's vector loads.
constexpr int64_t kScoresRowAlignment = 8;

// Row softmax of one chunk of scores in place: rows of `args.sk` values `ld` apart, batch entries
// `first_batch`.. `first_batch + batches - 1` of the flattened batch (the mask is found through
// args' batch strides). dtype float32, float16 or bfloat16; args.sk <= kAttentionGemmMaxKeys.
void launch_attention_softmax(const AttentionArgs& args, DataType dtype, void* scores, int64_t ld,
                              int64_t first_batch, int64_t batches, cudaStream_t stream);

class AttentionGemm {
 public:
  // Empty when the tactic applies to `args` (which hold the layer's shapes and strides, no
  // pointers); otherwise why not, for the build log and for a forced tactic's error.
  static std::string unsupported_reason(const AttentionArgs& args, DataType dtype);

  // Plans the GEMMs with cuBLASLt's heuristic; throws Error(kUnsupported) naming `what` when
  // cuBLASLt offers no algorithm.
  AttentionGemm(cublasLtHandle_t handle, const AttentionArgs& args, DataType dtype, bool allow_tf32,
                const std::string& what);
  ~AttentionGemm();
  AttentionGemm(const AttentionGemm&) = delete;
  AttentionGemm& operator=(const AttentionGemm&) = delete;

  size_t workspace_bytes() const { return scores_bytes_ + lt_workspace_; }

  // `args` carry the bound pointers; `workspace` holds workspace_bytes().
  void run(const AttentionArgs& args, void* workspace, cudaStream_t stream) const;

 private:
  // The two products for one chunk size of the batch.
  struct Products {
    int64_t batches = 0;
    std::unique_ptr<LtMatmul> scores, values;
  };
  Products plan(cublasLtHandle_t handle, int64_t batches, const std::string& what) const;
  void run_chunk(const Products& p, const AttentionArgs& args, int64_t first_batch, char* scores,
                 void* lt_workspace, cudaStream_t stream) const;

  DataType dtype_;
  bool allow_tf32_;
  int64_t sq_, sk_, d_, dv_, ld_;
  bool k_transposed_;                                   // K stored [D, Sk]
  int64_t q_stride_ = 0, k_stride_ = 0, v_stride_ = 0;  // elements between flat batch entries
  Products full_, tail_;  // chunks of full_.batches, then one of tail_.batches (0: none)
  size_t scores_bytes_ = 0, lt_workspace_ = 0;
};

}  // namespace kiln::cuda
