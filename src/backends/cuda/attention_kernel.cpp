// ScaledDotProductAttention on the GPU: prepare() turns the operands' shapes into batch strides
// (0 along broadcast dims) and row/column strides, K read as [Sk, D] whichever way it is stored,
// and sizes the kernel's shared memory; enqueue() launches the fused kernel (attention.cu).
#include "backends/cuda/attention.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/fused_kernels.hpp"

namespace kiln::cuda {
namespace {

// Element strides of a contiguous tensor of shape `s` read as broadcast to `target` (same or
// higher rank): 0 along dims it broadcasts over.
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& target) {
  std::vector<int64_t> out(target.size(), 0);
  int64_t stride = 1;
  for (size_t j = s.size(); j-- > 0;) {
    size_t d = j + target.size() - s.size();
    out[d] = s[j] == 1 && target[d] != 1 ? 0 : stride;
    stride *= s[j];
  }
  return out;
}

class AttentionKernel final : public CudaKernel {
 public:
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& q = ctx.inputs.at(0).shape;
    const Shape& k = ctx.inputs.at(1).shape;
    const Shape& v = ctx.inputs.at(2).shape;
    const Shape& y = ctx.outputs.at(0).shape;
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
    auto qs = broadcast_strides(q, with_matrix(a.sq, a.d));
    auto ks = k_transposed ? broadcast_strides(k, with_matrix(a.d, a.sk))
                           : broadcast_strides(k, with_matrix(a.sk, a.d));
    auto vs = broadcast_strides(v, with_matrix(a.sk, a.dv));
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
    prepare_attention(dtype_, a.d, a.dv, ctx.libs ? ctx.libs->device : 0, ctx.node.describe());
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (shape_numel(ctx.outputs.at(0).shape) == 0) return;
    if (args_.sk == 0) {  // an empty sum over no keys: zeros, as the unfused layers give
      KILN_CUDA_CHECK(cudaMemsetAsync(ctx.outputs[0].data, 0, ctx.outputs[0].nbytes(), ctx.stream));
      return;
    }
    AttentionArgs a = args_;
    a.q = ctx.inputs[0].data;
    a.k = ctx.inputs[1].data;
    a.v = ctx.inputs[2].data;
    a.mask = has_mask_ ? ctx.inputs[3].data : nullptr;
    a.y = ctx.outputs[0].data;
    launch_attention(a, dtype_, ctx.stream);
  }

 private:
  AttentionArgs args_;
  DataType dtype_ = DataType::kFloat32;
  bool has_mask_ = false;
};

}  // namespace

void register_attention_kernels(CudaKernelRegistry& r) {
  r.add("ScaledDotProductAttention", [](const ir::Node&) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<AttentionKernel>();
  });
}

}  // namespace kiln::cuda
