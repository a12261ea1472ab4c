// The GEMM-softmax-GEMM attention tactic: which layers it takes (each of Q, K and V must walk the
// flattened batch with one stride, as cuBLASLt's strided batching does), the chunking of the batch
// under the scores budget, and the launches.
#include "backends/cuda/attention_gemm.hpp"

#include <algorithm>

#include "backends/cuda/lt_tactics.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

// The one stride s with offset(b) = s * b over the flattened batch (batch dims row-major) for an
// operand with per-dim strides `strides`, or -1 when a partial broadcast makes it non-linear.
int64_t flat_batch_stride(const AttentionArgs& a, const int64_t* strides) {
  int64_t s = -1, inner = 1;
  for (int dim = a.num_batch_dims - 1; dim >= 0; --dim) {
    if (a.batch[dim] == 1) continue;  // any stride: the index is always 0
    if (s < 0) {
      s = strides[dim];
    } else if (strides[dim] != s * inner) {
      return -1;
    }
    inner *= a.batch[dim];
  }
  return s < 0 ? 0 : s;
}

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

}  // namespace

std::string AttentionGemm::unsupported_reason(const AttentionArgs& a, DataType dtype) {
  if (dtype != DataType::kFloat32 && dtype != DataType::kFloat16 && dtype != DataType::kBFloat16) {
    return cat("it takes float32, float16 and bfloat16, not ", to_string(dtype));
  }
  if (a.sq <= 0 || a.sk <= 0 || a.d <= 0 || a.dv <= 0) return "an operand is empty";
  if (a.sk > kAttentionGemmMaxKeys) {
    return cat("its softmax takes up to ", kAttentionGemmMaxKeys, " keys, not ", a.sk);
  }
  if (a.q_col != 1 || a.q_row != a.d) return "Q's rows are not packed";
  const auto es = static_cast<int64_t>(element_size(dtype));
  if ((a.q_offset * es) % 16 != 0 || (a.k_offset * es) % 16 != 0 || (a.v_offset * es) % 16 != 0)
    return "an operand view does not start 16-byte aligned";
  const bool k_packed = (a.k_col == 1 && a.k_row == a.d) || (a.k_row == 1 && a.k_col == a.sk);
  if (!k_packed) return "K's rows are not packed";
  if (a.v_col != 1 || a.v_row != a.dv) return "V's rows are not packed";
  int64_t packed = a.sq * a.dv;
  bool y_packed = a.y_col == 1 && a.y_row == a.dv;
  for (int i = a.num_batch_dims; i-- > 0;) {
    y_packed = y_packed && (a.y_batch[i] == packed || a.batch[i] == 1);
    packed *= a.batch[i];
  }
  if (!y_packed) return "Y is not written packed";
  if (flat_batch_stride(a, a.q_batch) < 0 || flat_batch_stride(a, a.k_batch) < 0 ||
      flat_batch_stride(a, a.v_batch) < 0) {
    return "Q, K or V broadcasts over some batch dims but not their neighbours (no single batch "
           "stride)";
  }
  const auto one_entry =
      static_cast<size_t>(a.sq * round_up(a.sk, kScoresRowAlignment)) * element_size(dtype);
  if (one_entry > kAttentionScoresBudget) {
    return cat("the scores of one batch entry take ", one_entry, " bytes, more than the ",
               kAttentionScoresBudget, " its workspace may use");
  }
  return "";
}

AttentionGemm::AttentionGemm(cublasLtHandle_t handle, const AttentionArgs& a, DataType dtype,
                             bool allow_tf32, const std::string& what)
    : dtype_(dtype),
      allow_tf32_(allow_tf32),
      sq_(a.sq),
      sk_(a.sk),
      d_(a.d),
      dv_(a.dv),
      ld_(round_up(a.sk, kScoresRowAlignment)),
      k_transposed_(!(a.k_col == 1 && a.k_row == a.d)) {
  std::string why = unsupported_reason(a, dtype);
  if (!why.empty()) fail(ErrorCode::kInternal, what, ": the GEMM attention tactic: ", why);
  q_stride_ = flat_batch_stride(a, a.q_batch);
  k_stride_ = flat_batch_stride(a, a.k_batch);
  v_stride_ = flat_batch_stride(a, a.v_batch);
  const size_t es = element_size(dtype);
  const auto entry_bytes = static_cast<size_t>(sq_ * ld_) * es;
  const int64_t chunk =
      std::min<int64_t>(a.batches, static_cast<int64_t>(kAttentionScoresBudget / entry_bytes));
  full_ = plan(handle, chunk, what);
  if (a.batches % chunk != 0) tail_ = plan(handle, a.batches % chunk, what);
  scores_bytes_ = (static_cast<size_t>(chunk) * entry_bytes + 255) / 256 * 256;
  for (const Products* p : {&full_, &tail_}) {
    if (!p->scores) continue;
    lt_workspace_ =
        std::max({lt_workspace_, p->scores->workspace_bytes(), p->values->workspace_bytes()});
  }
}

AttentionGemm::~AttentionGemm() = default;

AttentionGemm::Products AttentionGemm::plan(cublasLtHandle_t handle, int64_t batches,
                                            const std::string& what) const {
  const size_t es = element_size(dtype_);
  Products p;
  p.batches = batches;
  LtProblem s;  // S[Sq, Sk] = Q[Sq, D] K^T: K stored [Sk, D] is B transposed
  s.dtype = dtype_;
  s.m = sq_;
  s.n = sk_;
  s.k = d_;
  s.trans_b = !k_transposed_;
  s.batch = batches;
  s.stride_a = q_stride_;
  s.stride_b = k_stride_;
  s.stride_d = sq_ * ld_;
  s.ld_d = ld_;
  s.allow_tf32 = allow_tf32_;
  s.alignment_a = operand_alignment(q_stride_, es);
  s.alignment_b = operand_alignment(k_stride_, es);
  s.alignment_d = operand_alignment(sq_ * ld_, es);
  p.scores = std::make_unique<LtMatmul>(handle, s, what);

  LtProblem v;  // Y[Sq, Dv] = P[Sq, Sk] V[Sk, Dv], P in the scores' padded rows
  v.dtype = dtype_;
  v.m = sq_;
  v.n = dv_;
  v.k = sk_;
  v.batch = batches;
  v.stride_a = sq_ * ld_;
  v.ld_a = ld_;
  v.stride_b = v_stride_;
  v.stride_d = sq_ * dv_;
  v.allow_tf32 = allow_tf32_;
  v.alignment_a = operand_alignment(sq_ * ld_, es);
  v.alignment_b = operand_alignment(v_stride_, es);
  v.alignment_d = operand_alignment(sq_ * dv_, es);
  p.values = std::make_unique<LtMatmul>(handle, v, what);
  return p;
}

void AttentionGemm::run(const AttentionArgs& a, void* workspace, cudaStream_t stream) const {
  char* scores = static_cast<char*>(workspace);
  void* lt_workspace = scores + scores_bytes_;
  int64_t b0 = 0;
  for (; b0 + full_.batches <= a.batches; b0 += full_.batches) {
    run_chunk(full_, a, b0, scores, lt_workspace, stream);
  }
  if (b0 < a.batches) run_chunk(tail_, a, b0, scores, lt_workspace, stream);
}

void AttentionGemm::run_chunk(const Products& p, const AttentionArgs& a, int64_t b0, char* scores,
                              void* lt_workspace, cudaStream_t stream) const {
  const auto es = static_cast<int64_t>(element_size(dtype_));
  LtPointers s;
  s.a = static_cast<const char*>(a.q) + b0 * q_stride_ * es;
  s.b = static_cast<const char*>(a.k) + b0 * k_stride_ * es;
  s.d = scores;
  s.workspace = lt_workspace;
  p.scores->run(s, 1.0, 0.0, stream);

  launch_attention_softmax(a, dtype_, scores, ld_, b0, p.batches, stream);

  LtPointers v;
  v.a = scores;
  v.b = static_cast<const char*>(a.v) + b0 * v_stride_ * es;
  v.d = static_cast<char*>(a.y) + b0 * sq_ * dv_ * es;
  v.workspace = lt_workspace;
  p.values->run(v, 1.0, 0.0, stream);
}

}  // namespace kiln::cuda
