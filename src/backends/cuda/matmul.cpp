// MatMul and Gemm on the GPU through cuBLASLt. prepare() plans the product from the static shapes
// (batches as strides, several calls where one stride cannot express a broadcast), asks the
// heuristic for algorithms and lets the tuner pick; enqueue() only launches.
#include <optional>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/families.hpp"
#include "backends/cuda/lt_tactics.hpp"
#include "backends/cuda/matmul_cublaslt.hpp"
#include "backends/cuda/matmul_plan.hpp"
#include "backends/cuda/output_prefill.hpp"
#include "backends/cuda/tactic.hpp"
#include "ir/layer_precision.hpp"

namespace kiln::cuda {
namespace {

class MatMulKernel final : public CudaKernel {
 public:
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs.at(0);
    const DeviceTensor& b = ctx.inputs.at(1);
    plan_ = plan_matmul(a.shape, b.shape);
    elem_ = static_cast<int64_t>(element_size(a.dtype));
    if (plan_.calls.empty() || plan_.k == 0) return 0;
    LtProblem p = lt_problem_for(plan_, a.dtype, ir::allows_tf32(ctx.node));
    lt_ = std::make_unique<LtMatmul>(ctx.libs->cublaslt, p, ctx.node.describe());
    std::string signature = cat("MatMul ", p.signature(), " calls", plan_.calls.size());
    choose_algorithm(ctx, *lt_, signature, [&](size_t i, const TuningScratch& s, cudaStream_t st) {
      launch(i, s.input(0), s.input(1), s.output(0), s.workspace(), st);
    });
    return lt_->workspace_bytes();
  }

  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs.at(0);
    if (plan_.calls.empty()) return;
    if (plan_.k == 0) {  // an empty sum: zeros
      KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, y.nbytes(), ctx.stream));
      return;
    }
    check_base_alignment(ctx, ctx.inputs[0].data, "input A");
    check_base_alignment(ctx, ctx.inputs[1].data, "input B");
    check_base_alignment(ctx, y.data, "output Y");
    launch(std::nullopt, ctx.inputs[0].data, ctx.inputs[1].data, y.data, ctx.workspace, ctx.stream);
  }

 private:
  void launch(std::optional<size_t> candidate, const void* a, const void* b, void* y,
              void* workspace, cudaStream_t stream) {
    for (const MatmulPlan::Call& c : plan_.calls) {
      LtPointers ptr;
      ptr.a = static_cast<const char*>(a) + c.a * elem_;
      ptr.b = static_cast<const char*>(b) + c.b * elem_;
      ptr.d = static_cast<char*>(y) + c.c * elem_;
      ptr.workspace = workspace;
      if (candidate) {
        lt_->run_candidate(*candidate, ptr, 1.0, 0.0, stream);
      } else {
        lt_->run(ptr, 1.0, 0.0, stream);
      }
    }
  }

  MatmulPlan plan_;
  int64_t elem_ = 0;
  std::unique_ptr<LtMatmul> lt_;
};

// Gemm: Y = alpha * op(A) op(B) + beta * C. C reaches cuBLASLt as its C matrix when it is full,
// as the BIAS epilogue when it is one row and beta is 1, and otherwise is broadcast into Y first
// and accumulated in place (beta * Y).
class GemmKernel final : public CudaKernel {
 public:
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs.at(0);
    const DeviceTensor& b = ctx.inputs.at(1);
    const ir::Attributes& attrs = ctx.node.attrs;
    bool trans_a = attrs.get_int("transA", 0) != 0;
    bool trans_b = attrs.get_int("transB", 0) != 0;
    alpha_ = attrs.get_float("alpha", 1.0f);
    beta_ = attrs.get_float("beta", 1.0f);
    m_ = trans_a ? a.shape[1] : a.shape[0];
    int64_t k = trans_a ? a.shape[0] : a.shape[1];
    n_ = trans_b ? b.shape[0] : b.shape[1];
    elem_ = element_size(a.dtype);
    if (m_ * n_ == 0) return 0;
    const ir::Value* c = ctx.node.input(2);
    if (!c || beta_ == 0.0f) {
      mode_ = CMode::kNone;
    } else {
      const Shape& cs = ctx.inputs.at(2).shape;
      int64_t numel = shape_numel(cs);
      if (numel == m_ * n_) {
        mode_ = CMode::kFull;  // a one-way broadcast of equal size is the same layout
      } else if (beta_ == 1.0f && numel == n_ && !cs.empty() && cs.back() == n_) {
        mode_ = CMode::kBias;
      } else {
        mode_ = CMode::kPrefill;
        int64_t cm = cs.size() >= 2 ? cs[cs.size() - 2] : 1;
        int64_t cn = cs.empty() ? 1 : cs.back();
        prefill_strides_ = {0, cm == 1 ? 0 : cn, cn == 1 ? 0 : 1};
      }
    }
    if (k == 0) {
      ctx.fail(ErrorCode::kUnsupported,
               "a Gemm with an empty inner dimension (K = 0) is not "
               "supported on the CUDA backend");
    }
    LtProblem p;
    p.dtype = a.dtype;
    p.m = m_;
    p.n = n_;
    p.k = k;
    p.trans_a = trans_a;
    p.trans_b = trans_b;
    p.bias = mode_ == CMode::kBias;
    p.allow_tf32 = ir::allows_tf32(ctx.node);
    p.alignment_a = p.alignment_b = p.alignment_d = kLtBaseAlignment;
    lt_ = std::make_unique<LtMatmul>(ctx.libs->cublaslt, p, ctx.node.describe());
    std::string signature = cat("Gemm ", p.signature(), mode_ == CMode::kNone ? "" : " beta");
    choose_algorithm(ctx, *lt_, signature, [&](size_t i, const TuningScratch& s, cudaStream_t st) {
      LtPointers ptr{s.input(0), s.input(1), s.output(0), s.output(0), nullptr, s.workspace()};
      if (mode_ == CMode::kBias) ptr.bias = s.input(2);
      lt_->run_candidate(i, ptr, alpha_, lt_beta(), st);
    });
    return lt_->workspace_bytes();
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (m_ * n_ == 0) return;
    const DeviceTensor& y = ctx.outputs.at(0);
    check_base_alignment(ctx, ctx.inputs[0].data, "input A");
    check_base_alignment(ctx, ctx.inputs[1].data, "input B");
    check_base_alignment(ctx, y.data, "output Y");
    LtPointers ptr{ctx.inputs[0].data, ctx.inputs[1].data, y.data, y.data, nullptr, ctx.workspace};
    double beta = lt_beta();
    switch (mode_) {
      case CMode::kNone:
        break;
      case CMode::kFull:
        check_base_alignment(ctx, ctx.inputs[2].data, "input C");
        ptr.c = ctx.inputs[2].data;
        break;
      case CMode::kBias:
        check_base_alignment(ctx, ctx.inputs[2].data, "input C");
        ptr.bias = ctx.inputs[2].data;
        break;
      case CMode::kPrefill:
        prefill_output(y.data, ctx.inputs[2].data, elem_, {1, m_, n_}, prefill_strides_,
                       ctx.stream);
        break;
    }
    lt_->run(ptr, alpha_, beta, ctx.stream);
  }

 private:
  enum class CMode { kNone, kFull, kBias, kPrefill };
  // cuBLASLt's beta: C is read only when it is the full C or the prefilled output. A bias row goes
  // through the BIAS epilogue, and Y must not be read then: it holds whatever the last run left.
  double lt_beta() const { return mode_ == CMode::kNone || mode_ == CMode::kBias ? 0.0 : beta_; }
  CMode mode_ = CMode::kNone;
  std::array<int64_t, 3> prefill_strides_{};
  int64_t m_ = 0, n_ = 0;
  size_t elem_ = 0;
  float alpha_ = 1, beta_ = 1;
  std::unique_ptr<LtMatmul> lt_;
};

}  // namespace

void register_matmul_kernels(CudaKernelRegistry& r) {
  r.add("MatMul", [](const ir::Node&) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<MatMulKernel>();
  });
  r.add("Gemm", [](const ir::Node&) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<GemmKernel>();
  });
}

}  // namespace kiln::cuda
