// ScaledDotProductAttention on the GPU: prepare() turns the operands' shapes into batch strides
// (0 along broadcast dims) and row/column strides, K read as [Sk, D] whichever way it is stored,
// and picks a tactic: "flash" or "flash_dense" (the tensor-core flash-attention kernel,
// attention_flash.cu, FP16/BF16 heads of 32/64/128, or FP32 with TF32 products where the layer
// allows them; with all registers or more blocks per SM),
// "gemm" (cuBLASLt GEMMs around a softmax, attention_gemm.hpp) or "fused" (the general
// flash-style kernel, attention.cu), timed against each other when tuning; without tuning the
// first that applies, in that order. A pinned tactic (`kiln build --tactic
// ScaledDotProductAttention=gemm`) forces one (for tests and investigations).
#include <algorithm>
#include <cstdlib>
#include <optional>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_gemm.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/families.hpp"
#include "backends/cuda/lt_tactics.hpp"
#include "backends/cuda/strided_layout.hpp"
#include "backends/cuda/tactic.hpp"
#include "core/logging.hpp"
#include "ir/attention_layout.hpp"
#include "ir/layer_precision.hpp"
#include "ir/layer_tactic.hpp"

namespace kiln::cuda {
namespace {

constexpr const char* kFlashTactic = "flash";
constexpr const char* kFlashDenseTactic = "flash_dense";
constexpr const char* kGemmTactic = "gemm";
constexpr const char* kFusedTactic = "fused";

bool is_flash(const std::string& tactic) {
  return tactic == kFlashTactic || tactic == kFlashDenseTactic;
}

class AttentionKernel final : public CudaKernel {
 public:
  size_t prepare(const CudaKernelContext& ctx) override {
    // Logical shapes: operands stored permuted or read as views of their inputs (q_perm,
    // q_view...; ir/attention_layout.hpp) are read through strides from an element offset.
    ir::OperandLayout operands[3];
    for (int i = 0; i < 3; ++i) {
      operands[i] = ir::attention_operand(ctx.node.attrs, i, ctx.inputs.at(i).shape);
    }
    const std::vector<int64_t> y_perm =
        ir::attention_perm(ctx.node.attrs, 3, ctx.outputs.at(0).shape.size());
    const Shape& q = operands[0].shape;
    const Shape& k = operands[1].shape;
    const Shape& v = operands[2].shape;
    Shape y = ctx.outputs[0].shape;
    for (size_t j = 0; j < y_perm.size(); ++j) {
      y[static_cast<size_t>(y_perm[j])] = ctx.outputs[0].shape[j];
    }
    dtype_ = ctx.outputs.at(0).dtype;
    has_mask_ = ctx.node.input(3) != nullptr;
    const bool k_transposed = ctx.node.attrs.get_int("k_transposed", 0) != 0;
    AttentionArgs& a = args_;
    a.scale = ctx.node.attrs.get_float("scale", 1.0f);
    a.zero_nan_rows = ctx.node.attrs.get_int("zero_nan_rows", 0) != 0;
    a.sq = q[q.size() - 2];
    a.d = q.back();
    a.sk = k_transposed ? k.back() : k[k.size() - 2];
    a.dv = v.back();
    Shape batch(y.begin(), y.end() - 2);
    a.batches = shape_numel(batch);
    if (shape_numel(y) == 0) return 0;
    if (batch.size() > static_cast<size_t>(AttentionArgs::kMaxBatchDims)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA attention kernel takes up to ",
               AttentionArgs::kMaxBatchDims, " batch dims, not ", batch.size());
    }
    auto with_matrix = [&batch](int64_t rows, int64_t cols) {
      Shape s = batch;
      s.push_back(rows);
      s.push_back(cols);
      return s;
    };
    const size_t nb = batch.size();
    auto qs = ir::broadcast_operand(operands[0], with_matrix(a.sq, a.d));
    auto ks = ir::broadcast_operand(operands[1],
                                    k_transposed ? with_matrix(a.d, a.sk) : with_matrix(a.sk, a.d));
    auto vs = ir::broadcast_operand(operands[2], with_matrix(a.sk, a.dv));
    a.q_offset = operands[0].offset;
    a.k_offset = operands[1].offset;
    a.v_offset = operands[2].offset;
    std::vector<int64_t> ms(nb + 2, 0);
    if (has_mask_) ms = broadcast_strides(ctx.inputs.at(3).shape, with_matrix(a.sq, a.sk));
    a.num_batch_dims = static_cast<int>(nb);
    for (size_t i = 0; i < nb; ++i) {
      a.batch[i] = batch[i];
      a.q_batch[i] = qs[i];
      a.k_batch[i] = ks[i];
      a.v_batch[i] = vs[i];
      a.m_batch[i] = ms[i];
    }
    a.q_row = qs[nb];
    a.q_col = qs[nb + 1];
    a.k_row = k_transposed ? ks[nb + 1] : ks[nb];
    a.k_col = k_transposed ? ks[nb] : ks[nb + 1];
    a.v_row = vs[nb];
    a.v_col = vs[nb + 1];
    a.m_row = ms[nb];
    a.m_col = ms[nb + 1];
    auto ys = ir::attention_output_strides(y, y_perm);
    for (size_t i = 0; i < nb; ++i) a.y_batch[i] = ys[i];
    a.y_row = ys[nb];
    a.y_col = ys[nb + 1];
    if (a.sk == 0) return 0;  // enqueue() writes zeros
    choose_tactic(ctx, k_transposed);
    return gemm_ ? gemm_->workspace_bytes() : 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (shape_numel(ctx.outputs.at(0).shape) == 0) return;
    if (args_.sk == 0) {  // an empty sum over no keys: zeros, as the unfused layers give
      KILN_CUDA_CHECK(cudaMemsetAsync(ctx.outputs[0].data, 0, ctx.outputs[0].nbytes(), ctx.stream));
      return;
    }
    const AttentionArgs bound =
        with_pointers(ctx.inputs[0].data, ctx.inputs[1].data, ctx.inputs[2].data,
                      has_mask_ ? ctx.inputs[3].data : nullptr, ctx.outputs[0].data);
    if (gemm_ || is_flash(tactic_)) {
      check_base_alignment(ctx, bound.q, "Q");
      check_base_alignment(ctx, bound.k, "K");
      check_base_alignment(ctx, bound.v, "V");
      check_base_alignment(ctx, ctx.outputs[0].data, "Y");
      if (gemm_ && ctx.workspace_bytes < gemm_->workspace_bytes()) {
        ctx.fail(ErrorCode::kInternal, "the attention workspace has ", ctx.workspace_bytes,
                 " bytes; the GEMM tactic needs ", gemm_->workspace_bytes());
      }
    }
    launch(tactic_, bound, ctx.workspace, ctx.stream);
  }

 private:
  // Lists the tactics that apply (tensor-core ones first), honours a pinned tactic, and lets
  // the tuner time them. Keeps gemm_ only when it is the choice.
  void choose_tactic(const CudaKernelContext& ctx, bool k_transposed) {
    const std::string what = ctx.node.describe();
    std::vector<std::string> names;
    std::string flash_why =
        flash_attention_unsupported_reason(args_, dtype_, ir::allows_tf32(ctx.node));
    if (flash_why.empty()) {
      prepare_flash_attention(args_, dtype_, false);
      prepare_flash_attention(args_, dtype_, true);
      names.push_back(kFlashTactic);
      names.push_back(kFlashDenseTactic);
    }
    std::string gemm_why = AttentionGemm::unsupported_reason(args_, dtype_);
    if (gemm_why.empty() && !(ctx.libs && ctx.libs->cublaslt)) gemm_why = "no cuBLASLt handle";
    if (gemm_why.empty()) {
      try {
        gemm_ = std::make_unique<AttentionGemm>(ctx.libs->cublaslt, args_, dtype_,
                                                ir::allows_tf32(ctx.node), what);
        names.push_back(kGemmTactic);
      } catch (const Error& e) {
        gemm_why = e.what();
      }
    }
    std::string fused_why;
    try {
      prepare_attention(dtype_, args_.d, args_.dv, ctx.libs ? ctx.libs->device : 0, what);
      names.push_back(kFusedTactic);
    } catch (const Error& e) {
      fused_why = e.what();
    }
    auto why_not = [&](const std::string& name) {
      return is_flash(name) ? flash_why : name == kGemmTactic ? gemm_why : fused_why;
    };
    // A tactic pinned by BuilderConfig::tactics, else the tuner (or the default order) chooses.
    if (std::optional<std::string> pinned = ir::pinned_tactic(ctx.node)) {
      const std::string& forced = *pinned;
      if (!is_flash(forced) && forced != kGemmTactic && forced != kFusedTactic) {
        ctx.fail(ErrorCode::kInvalidArgument, "its pinned tactic is '", forced, "'; it takes '",
                 kFlashTactic, "', '", kFlashDenseTactic, "', '", kGemmTactic, "' or '",
                 kFusedTactic, "'");
      }
      // Not kUnsupported: that would send the layer to the host fallback instead of failing.
      if (std::find(names.begin(), names.end(), forced) == names.end()) {
        ctx.fail(ErrorCode::kInvalidArgument, "its pinned tactic ", forced,
                 " does not apply: ", why_not(forced));
      }
      names = {forced};
    }
    if (names.empty()) {
      ctx.fail(ErrorCode::kUnsupported, "no CUDA attention tactic applies (flash: ", flash_why,
               "; gemm: ", gemm_why, "; fused: ", fused_why, ")");
    }
    size_t chosen = 0;
    TacticTuner* tuner = ctx.libs ? ctx.libs->tuner : nullptr;
    if (tuner) {
      std::vector<size_t> workspace;
      for (const std::string& name : names) {
        workspace.push_back(name == kGemmTactic ? gemm_->workspace_bytes() : 0);
      }
      std::optional<TuningScratch> scratch;
      chosen = tuner->choose(ctx.node, signature(ctx, k_transposed), names, workspace,
                             [&](size_t i, cudaStream_t stream) {
                               if (!scratch)
                                 scratch.emplace(ctx, gemm_ ? gemm_->workspace_bytes() : 0);
                               const TuningScratch& s = *scratch;
                               launch(names[i],
                                      with_pointers(s.input(0), s.input(1), s.input(2),
                                                    has_mask_ ? s.input(3) : nullptr, s.output(0)),
                                      s.workspace(), stream);
                             });
    }
    tactic_ = names[chosen];
    if (tactic_ != kGemmTactic) gemm_.reset();
    std::string skipped;
    for (const char* name : {kFlashTactic, kGemmTactic, kFusedTactic}) {
      if (!why_not(name).empty()) skipped += cat("; ", name, " does not apply: ", why_not(name));
    }
    log(Severity::kVerbose,
        cat(what, ": attention tactic ", tactic_,
            names.size() > 1 ? "" : " (the only one that applies or allowed)", skipped));
  }

  std::string signature(const CudaKernelContext& ctx, bool k_transposed) const {
    return cat("ScaledDotProductAttention ", to_string(dtype_),
               ir::allows_tf32(ctx.node) ? " tf32" : "", " q", shape_to_string(ctx.inputs[0].shape),
               " k", shape_to_string(ctx.inputs[1].shape), " v",
               shape_to_string(ctx.inputs[2].shape),
               has_mask_ ? cat(" mask", shape_to_string(ctx.inputs[3].shape)) : std::string(),
               k_transposed ? " kT" : "");
  }

  // The operands' first elements: their views start `offset` elements into the inputs.
  AttentionArgs with_pointers(const void* q, const void* k, const void* v, const void* mask,
                              void* y) const {
    AttentionArgs a = args_;
    const size_t es = element_size(dtype_);
    a.q = static_cast<const char*>(q) + a.q_offset * es;
    a.k = static_cast<const char*>(k) + a.k_offset * es;
    a.v = static_cast<const char*>(v) + a.v_offset * es;
    a.mask = mask;
    a.y = y;
    return a;
  }

  void launch(const std::string& tactic, const AttentionArgs& a, void* workspace,
              cudaStream_t stream) const {
    if (is_flash(tactic)) {
      launch_flash_attention(a, dtype_, tactic == kFlashDenseTactic, stream);
    } else if (tactic == kGemmTactic) {
      gemm_->run(a, workspace, stream);
    } else {
      launch_attention(a, dtype_, stream);
    }
  }

  AttentionArgs args_;
  DataType dtype_ = DataType::kFloat32;
  bool has_mask_ = false;
  std::string tactic_ = kFusedTactic;
  std::unique_ptr<AttentionGemm> gemm_;  // set when the GEMM tactic is the choice
};

}  // namespace

void register_attention_kernels(CudaKernelRegistry& r) {
  r.add("ScaledDotProductAttention", [](const ir::Node&) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<AttentionKernel>();
  });
}

}  // namespace kiln::cuda
