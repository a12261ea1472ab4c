// FusedMatMul on the GPU: Y = act(alpha * op(A) op(B) + bias + Z) (or act(...) + Z) as one
// cuBLASLt product whose epilogue takes as much as it can (a bias row through the BIAS epilogue,
// the residual or a full-size bias as C with beta = 1, Relu and tanh-Gelu through the RELU/GELU
// epilogues), and one kiln epilogue kernel on the output for the rest. prepare() tries the fullest
// split first and gives parts back to the epilogue kernel when cuBLASLt offers no algorithm.
#include <optional>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/families.hpp"
#include "backends/cuda/fused_epilogue.hpp"
#include "backends/cuda/lt_tactics.hpp"
#include "backends/cuda/matmul_cublaslt.hpp"
#include "backends/cuda/matmul_plan.hpp"
#include "ir/layer_precision.hpp"

namespace kiln::cuda {
namespace {

using ir::ActivationKind;

// Which input cuBLASLt reads as C (beta = 1).
enum class CSource { kNone, kResidual, kBias };

// How the epilogue is divided between cuBLASLt and the kiln kernel.
struct Split {
  bool lt_bias = false;
  CSource c = CSource::kNone;
  LtProblem::Activation lt_act = LtProblem::Activation::kNone;
  bool post_bias = false, post_residual = false, post_act = false;

  bool post() const { return post_bias || post_residual || post_act; }
};

// The activation cuBLASLt's epilogue computes. Not Relu: CUBLASLT_EPILOGUE_RELU turns a NaN into
// 0 (ONNX Runtime and the CPU keep it), so Relu runs in kiln's epilogue kernel.
std::optional<LtProblem::Activation> lt_activation(const ir::Activation& a) {
  if (a.kind == ActivationKind::kGeluTanh) return LtProblem::Activation::kGeluTanh;
  return std::nullopt;
}

class FusedMatMulKernel final : public CudaKernel {
 public:
  explicit FusedMatMulKernel(const ir::Node& node)
      : alpha_(node.attrs.get_float("alpha", 1.0f)),
        trans_a_(node.attrs.get_int("transA", 0) != 0),
        trans_b_(node.attrs.get_int("transB", 0) != 0),
        act_(ir::read_activation(node.attrs)),
        residual_before_(node.attrs.get_int("residual_before_activation", 1) != 0) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& a = ctx.inputs.at(0);
    const DeviceTensor& b = ctx.inputs.at(1);
    const DeviceTensor& y = ctx.outputs.at(0);
    has_bias_ = ctx.node.input(2) != nullptr;
    has_residual_ = ctx.node.input(3) != nullptr;
    dtype_ = y.dtype;
    elem_ = static_cast<int64_t>(element_size(y.dtype));
    if (y.numel() == 0) return 0;
    if (a.shape.size() < 2 || b.shape.size() < 2) {
      ctx.fail(ErrorCode::kUnsupported, "FusedMatMul on the CUDA backend needs operands of rank 2 ",
               "or more, got ", shape_to_string(a.shape), " and ", shape_to_string(b.shape));
    }
    Shape la = a.shape, lb = b.shape;
    if (trans_a_) std::swap(la[la.size() - 1], la[la.size() - 2]);
    if (trans_b_) std::swap(lb[lb.size() - 1], lb[lb.size() - 2]);
    plan_ = plan_matmul(la, lb);
    const int64_t m = la[la.size() - 2];
    if (trans_a_ && plan_.m != m) {
      // plan_matmul folded A's batch into M, which only works for an untransposed A: back to a
      // strided batch of separate products.
      plan_.batch = plan_.m / m;
      plan_.m = m;
      plan_.stride_a = m * plan_.k;
      plan_.stride_b = 0;
      plan_.stride_c = m * plan_.n;
    }
    bias_kind_ = classify_bias(ctx, y.shape);

    std::vector<Split> splits = candidate_splits();
    std::string last_error;
    for (const Split& s : splits) {
      split_ = s;
      if (plan_.k == 0) break;  // no product to run: the epilogue kernel does it all
      try {
        lt_ = std::make_unique<LtMatmul>(ctx.libs->cublaslt, problem(ctx), ctx.node.describe());
        break;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
        last_error = e.what();
      }
    }
    if (plan_.k == 0) {
      split_ = splits.back();
    } else if (!lt_) {
      ctx.fail(ErrorCode::kUnsupported, last_error);
    }
    post_ = make_post(ctx, y.shape);
    if (!lt_) return 0;
    std::string signature = cat("FusedMatMul ", problem(ctx).signature(), " calls",
                                plan_.calls.size(), split_.c == CSource::kNone ? "" : " beta");
    choose_algorithm(ctx, *lt_, signature, [&](size_t i, const TuningScratch& s, cudaStream_t st) {
      launch(i, s.input(0), s.input(1), s.input(2), s.input(3), s.output(0), s.workspace(), st);
    });
    return lt_->workspace_bytes();
  }

  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs.at(0);
    if (y.numel() == 0) return;
    const void* bias = has_bias_ ? ctx.inputs.at(2).data : nullptr;
    const void* residual = has_residual_ ? ctx.inputs.at(3).data : nullptr;
    if (lt_) {
      check_base_alignment(ctx, ctx.inputs[0].data, "input A");
      check_base_alignment(ctx, ctx.inputs[1].data, "input B");
      check_base_alignment(ctx, bias, "the bias");
      check_base_alignment(ctx, residual, "the residual");
      check_base_alignment(ctx, y.data, "output Y");
      launch(std::nullopt, ctx.inputs[0].data, ctx.inputs[1].data, bias, residual, y.data,
             ctx.workspace, ctx.stream);
    } else {  // K = 0: the product is zeros
      KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, y.nbytes(), ctx.stream));
    }
    if (split_.post()) {
      EpilogueLaunch e = post_;
      e.y = y.data;
      e.bias = split_.post_bias ? bias : nullptr;
      e.residual = split_.post_residual ? residual : nullptr;
      launch_epilogue(e, ctx.stream);
    }
  }

 private:
  enum class BiasKind { kNone, kRow, kFull, kBroadcast };

  BiasKind classify_bias(const CudaKernelContext& ctx, const Shape& y) const {
    if (!has_bias_) return BiasKind::kNone;
    const Shape& bs = ctx.inputs.at(2).shape;
    const int64_t numel = shape_numel(bs);
    // One value per output column, the same for every row and batch: cuBLASLt's bias vector.
    if (!bs.empty() && bs.back() == plan_.n && numel == plan_.n) return BiasKind::kRow;
    // The output's own layout (a one-way broadcast of equal size is no broadcast).
    if (numel == shape_numel(y)) return BiasKind::kFull;
    return BiasKind::kBroadcast;
  }

  // Splits from the fullest use of cuBLASLt to none.
  std::vector<Split> candidate_splits() const {
    std::vector<Split> out;
    for (int level = 0; level < 3; ++level) {
      Split s;
      s.lt_bias = level < 2 && bias_kind_ == BiasKind::kRow;
      if (level < 2 && has_residual_ && residual_before_) {
        s.c = CSource::kResidual;
      } else if (level < 2 && bias_kind_ == BiasKind::kFull) {
        s.c = CSource::kBias;
      }
      s.post_bias = has_bias_ && !s.lt_bias && s.c != CSource::kBias;
      s.post_residual = has_residual_ && s.c != CSource::kResidual;
      bool before_act_in_lt = !s.post_bias && !(s.post_residual && residual_before_);
      auto lt_act = lt_activation(act_);
      if (level == 0 && before_act_in_lt && lt_act) s.lt_act = *lt_act;
      s.post_act = act_.kind != ActivationKind::kNone && s.lt_act == LtProblem::Activation::kNone;
      if (level == 0 || (out.back().lt_bias != s.lt_bias || out.back().c != s.c ||
                         out.back().lt_act != s.lt_act)) {
        out.push_back(s);
      }
    }
    return out;
  }

  LtProblem problem(const CudaKernelContext& ctx) const {
    LtProblem p = lt_problem_for(plan_, dtype_, ir::allows_tf32(ctx.node));
    p.trans_a = trans_a_;
    p.trans_b = trans_b_;
    p.bias = split_.lt_bias;
    p.activation = split_.lt_act;
    return p;
  }

  EpilogueLaunch make_post(const CudaKernelContext& ctx, const Shape& y) const {
    EpilogueLaunch e;
    e.dtype = dtype_;
    e.act = split_.post_act ? act_ : ir::Activation{};
    e.residual_before_activation = residual_before_;
    std::vector<int64_t> dims(y.begin(), y.end()), strides(y.size(), 0);
    if (split_.post_bias) {
      // The bias right-aligned to the output, stride 0 along its broadcast dims.
      Shape bs = ctx.inputs.at(2).shape;
      bs.insert(bs.begin(), y.size() - bs.size(), 1);
      int64_t s = 1;
      for (size_t d = y.size(); d-- > 0;) {
        strides[d] = bs[d] == 1 ? 0 : s;
        s *= bs[d];
      }
    }
    collapse_epilogue_dims(e, dims, strides);
    return e;
  }

  void launch(std::optional<size_t> candidate, const void* a, const void* b, const void* bias,
              const void* residual, void* y, void* workspace, cudaStream_t stream) {
    const void* c = split_.c == CSource::kResidual ? residual
                    : split_.c == CSource::kBias   ? bias
                                                   : nullptr;
    for (const MatmulPlan::Call& call : plan_.calls) {
      LtPointers ptr;
      ptr.a = static_cast<const char*>(a) + call.a * elem_;
      ptr.b = static_cast<const char*>(b) + call.b * elem_;
      ptr.d = static_cast<char*>(y) + call.c * elem_;
      ptr.c = c ? static_cast<const char*>(c) + call.c * elem_ : ptr.d;
      ptr.bias = split_.lt_bias ? bias : nullptr;
      ptr.workspace = workspace;
      double beta = c ? 1.0 : 0.0;
      if (candidate) {
        lt_->run_candidate(*candidate, ptr, alpha_, beta, stream);
      } else {
        lt_->run(ptr, alpha_, beta, stream);
      }
    }
  }

  float alpha_;
  bool trans_a_, trans_b_;
  ir::Activation act_;
  bool residual_before_;
  bool has_bias_ = false, has_residual_ = false;
  DataType dtype_ = DataType::kFloat32;
  int64_t elem_ = 0;
  MatmulPlan plan_;
  BiasKind bias_kind_ = BiasKind::kNone;
  Split split_;
  EpilogueLaunch post_;
  std::unique_ptr<LtMatmul> lt_;
};

}  // namespace

void register_matmul_fused_kernels(CudaKernelRegistry& r) {
  r.add("FusedMatMul", [](const ir::Node& node) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<FusedMatMulKernel>(node);
  });
}

}  // namespace kiln::cuda
