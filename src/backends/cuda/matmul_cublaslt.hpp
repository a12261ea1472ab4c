// One row-major (strided-batched) matrix product through cuBLASLt: the descriptors, the
// heuristic's candidate algorithms (the tactics the tuner may time) and the launch. MatMul, Gemm
// and the fused matrix ops all describe their product as an LtProblem and run it through here.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_handles.hpp"
#include "kiln/types.hpp"

namespace kiln::cuda {

using LtMatmulDesc = UniqueHandle<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using LtMatrixLayout = UniqueHandle<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;

// D[M,N] = act(alpha * op(A)[M,K] op(B)[K,N] + beta * C + bias), row-major, in kiln's terms.
struct LtProblem {
  DataType dtype = DataType::kFloat32;
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;  // A stored [K,M] / B stored [N,K]
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_d = 0;  // elements between batch entries
  // Leading dimensions (elements between rows as stored); 0 means packed rows.
  int64_t ld_a = 0, ld_b = 0, ld_d = 0;
  bool bias = false;  // add a bias of N values to every row (cuBLASLt BIAS epilogue)
  // An activation cuBLASLt applies last, after the bias and beta * C (RELU / GELU epilogues;
  // cuBLASLt's GELU is the tanh approximation).
  enum class Activation { kNone, kRelu, kGeluTanh };
  Activation activation = Activation::kNone;
  bool allow_tf32 = false;
  // Byte alignment every A, B, C/D pointer is guaranteed to have (a power of two <= 256).
  int alignment_a = 16, alignment_b = 16, alignment_d = 16;

  std::string signature() const;  // for the timing cache
};

struct LtPointers {
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;  // may equal d; ignored when beta is 0
  void* d = nullptr;
  const void* bias = nullptr;
  void* workspace = nullptr;
};

class LtMatmul {
 public:
  static constexpr int kMaxCandidates = 8;
  static constexpr size_t kMaxWorkspace = size_t{32} << 20;

  // Builds the descriptors and asks the heuristic for candidates; throws Error(kUnsupported) when
  // cuBLASLt offers none (the message names `what`, e.g. the node).
  LtMatmul(cublasLtHandle_t handle, const LtProblem& p, const std::string& what);
  LtMatmul(const LtMatmul&) = delete;
  LtMatmul& operator=(const LtMatmul&) = delete;

  size_t num_candidates() const { return algos_.size(); }
  std::string candidate_name(size_t i) const;  // the algorithm's bytes, in hex
  size_t candidate_workspace(size_t i) const { return workspace_.at(i); }
  void select(size_t i) { chosen_ = i; }
  size_t workspace_bytes() const { return workspace_.at(chosen_); }

  // Launches candidate `candidate` (the selected one by default) with the given scales.
  void run(const LtPointers& ptr, double alpha, double beta, cudaStream_t stream);
  void run_candidate(size_t candidate, const LtPointers& ptr, double alpha, double beta,
                     cudaStream_t stream);

 private:
  cublasLtHandle_t handle_;
  LtProblem p_;
  LtMatmulDesc desc_;
  LtMatrixLayout layout_a_, layout_b_, layout_d_;
  std::vector<cublasLtMatmulAlgo_t> algos_;
  std::vector<size_t> workspace_;
  size_t chosen_ = 0;
  const void* bias_set_ = nullptr;
};

// The largest power of two <= 256 dividing `bytes` (256 for 0).
int alignment_of(int64_t bytes);

}  // namespace kiln::cuda
