// cuBLASLt is column-major; kiln's tensors are row-major. A row-major D[M,N] is a column-major
// N x M matrix, so D^T = op(B)^T op(A)^T is computed: cuBLASLt's first operand is kiln's B and
// its second is kiln's A, each with the transpose flag it has in kiln, and no data moves.
#include "backends/cuda/matmul_cublaslt.hpp"

#include <cstdio>
#include <limits>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

struct LtTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
  cudaDataType_t scale;
};

LtTypes lt_types(const LtProblem& p, const std::string& what) {
  switch (p.dtype) {
    case DataType::kFloat32:
      return {CUDA_R_32F, p.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
              CUDA_R_32F};
    case DataType::kFloat16:
      return {CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F};  // FP32 accumulation
    case DataType::kBFloat16:
      return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case DataType::kFloat64:
      return {CUDA_R_64F, CUBLAS_COMPUTE_64F, CUDA_R_64F};
    default:
      fail(ErrorCode::kUnsupported, what, ": the CUDA backend multiplies float32, float16, ",
           "bfloat16 and float64 matrices, not ", to_string(p.dtype));
  }
}

LtMatrixLayout make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld,
                           int64_t batch, int64_t stride) {
  cublasLtMatrixLayout_t created = nullptr;
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&created, type, static_cast<uint64_t>(rows),
                                               static_cast<uint64_t>(cols), ld));
  LtMatrixLayout l(created);
  if (batch > 1) {
    auto count = static_cast<int32_t>(batch);
    KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l.get(), CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                       &count, sizeof(count)));
    KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
        l.get(), CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
  }
  return l;
}

// A heuristic preference for the duration of the query.
class Preference {
 public:
  Preference() {
    cublasLtMatmulPreference_t created = nullptr;
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&created));
    p_.reset(created);
  }
  cublasLtMatmulPreference_t get() const { return p_.get(); }
  void set(cublasLtMatmulPreferenceAttributes_t a, const void* v, size_t n) {
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(p_.get(), a, v, n));
  }

 private:
  UniqueHandle<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy> p_;
};

}  // namespace

int alignment_of(int64_t bytes) {
  int a = 256;
  while (a > 1 && bytes % a != 0) a /= 2;
  return a;
}

std::string LtProblem::signature() const {
  return cat("gemm ", to_string(dtype), allow_tf32 ? " tf32" : "", " m", m, " n", n, " k", k,
             trans_a ? " tA" : "", trans_b ? " tB" : "", " batch", batch, " sa", stride_a, " sb",
             stride_b, " sd", stride_d, bias ? " bias" : "",
             activation == Activation::kRelu       ? " relu"
             : activation == Activation::kGeluTanh ? " gelu"
                                                   : "",
             " align", alignment_a, "/", alignment_b, "/", alignment_d,
             ld_a || ld_b || ld_d ? cat(" ld", ld_a, "/", ld_b, "/", ld_d) : std::string());
}

LtMatmul::LtMatmul(cublasLtHandle_t handle, const LtProblem& p, const std::string& what)
    : handle_(handle), p_(p) {
  if (p.batch > std::numeric_limits<int32_t>::max()) {
    fail(ErrorCode::kUnsupported, what, ": a batch of ", p.batch, " products is more than ",
         "cuBLASLt takes in one call");
  }
  LtTypes t = lt_types(p, what);
  cublasLtMatmulDesc_t created = nullptr;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&created, t.compute, t.scale));
  desc_.reset(created);
  // cuBLASLt's first operand is kiln's B.
  cublasOperation_t op_first = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_second = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSA,
                                                   &op_first, sizeof(op_first)));
  KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_TRANSB,
                                                   &op_second, sizeof(op_second)));
  if (p.bias || p.activation != LtProblem::Activation::kNone) {
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    switch (p.activation) {
      case LtProblem::Activation::kNone:
        break;
      case LtProblem::Activation::kRelu:
        epilogue = p.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
        break;
      case LtProblem::Activation::kGeluTanh:
        epilogue = p.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
        break;
    }
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                     &epilogue, sizeof(epilogue)));
  }
  // Stored shapes, column-major: B [K,N] row-major is N x K (ld N); transposed, K x N (ld K).
  auto ld = [](int64_t given, int64_t packed) { return given ? given : packed; };
  layout_a_ = p.trans_b ? make_layout(t.data, p.k, p.n, ld(p.ld_b, p.k), p.batch, p.stride_b)
                        : make_layout(t.data, p.n, p.k, ld(p.ld_b, p.n), p.batch, p.stride_b);
  layout_b_ = p.trans_a ? make_layout(t.data, p.m, p.k, ld(p.ld_a, p.m), p.batch, p.stride_a)
                        : make_layout(t.data, p.k, p.m, ld(p.ld_a, p.k), p.batch, p.stride_a);
  layout_d_ = make_layout(t.data, p.n, p.m, ld(p.ld_d, p.n), p.batch, p.stride_d);

  Preference pref;
  uint64_t max_ws = kMaxWorkspace;
  pref.set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws, sizeof(max_ws));
  auto align_first = static_cast<uint32_t>(p.alignment_b);
  auto align_second = static_cast<uint32_t>(p.alignment_a);
  auto align_d = static_cast<uint32_t>(p.alignment_d);
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_first, sizeof(align_first));
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_second, sizeof(align_second));
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof(align_d));
  pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof(align_d));

  cublasLtMatmulHeuristicResult_t results[kMaxCandidates] = {};
  int returned = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      handle_, desc_.get(), layout_a_.get(), layout_b_.get(), layout_d_.get(), layout_d_.get(),
      pref.get(), kMaxCandidates, results, &returned);
  if (status != CUBLAS_STATUS_SUCCESS && status != CUBLAS_STATUS_NOT_SUPPORTED) {
    KILN_CUBLAS_CHECK(status);
  }
  for (int i = 0; i < returned; ++i) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
    algos_.push_back(results[i].algo);
    workspace_.push_back(results[i].workspaceSize);
  }
  if (algos_.empty()) {
    fail(ErrorCode::kUnsupported, what, ": cuBLASLt has no algorithm for ", p.signature());
  }
}

std::string LtMatmul::candidate_name(size_t i) const {
  const cublasLtMatmulAlgo_t& a = algos_.at(i);
  std::string s = "lt";
  char hex[17];
  for (uint64_t word : a.data) {
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(word));
    s += hex;
  }
  return s;
}

void LtMatmul::run(const LtPointers& ptr, double alpha, double beta, cudaStream_t stream) {
  run_candidate(chosen_, ptr, alpha, beta, stream);
}

void LtMatmul::run_candidate(size_t candidate, const LtPointers& ptr, double alpha, double beta,
                             cudaStream_t stream) {
  if (p_.bias && ptr.bias != bias_set_) {
    // A host-side descriptor update only: no device work, safe inside graph capture.
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc_.get(), CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                     &ptr.bias, sizeof(ptr.bias)));
    bias_set_ = ptr.bias;
  }
  float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  bool wide = p_.dtype == DataType::kFloat64;
  const void* alpha_p = wide ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* beta_p = wide ? static_cast<const void*>(&beta) : &beta_f;
  const void* c = beta == 0 ? ptr.d : ptr.c;
  KILN_CUBLAS_CHECK(cublasLtMatmul(handle_, desc_.get(), alpha_p, ptr.b, layout_a_.get(), ptr.a,
                                   layout_b_.get(), beta_p, c, layout_d_.get(), ptr.d,
                                   layout_d_.get(), &algos_.at(candidate), ptr.workspace,
                                   workspace_.at(candidate), stream));
}

}  // namespace kiln::cuda
