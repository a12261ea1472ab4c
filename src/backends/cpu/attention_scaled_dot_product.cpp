// The CPU kernel of ScaledDotProductAttention: for each batch index and query row, the scores
// row scale * q.K^T + mask, its softmax and the weighted sum of V rows, computed in one pass
// with the row in a per-thread buffer, so the [.., Sq, Sk] score tensor is never materialized.
// Each step computes and rounds as the unfused MatMul/Mul/Add/Softmax/MatMul chain does;
// zero_nan_rows=1 adds the Where(IsNaN(P), 0, P) guard of PyTorch's exports on the probabilities.
// Operands stored permuted (q_perm, k_perm, v_perm, y_perm) or read as views of their inputs
// (q_view, k_view, v_view) are read and written through strides.
#include <cmath>
#include <limits>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/elementwise_loops.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/attention_layout.hpp"

namespace kiln::cpu {
namespace {

// Strides reading operand `which` (its layout per its perm or view attribute) as broadcast to
// batch + [rows, cols].
std::vector<int64_t> strides_for(const ir::OperandLayout& operand, const Shape& batch, int64_t rows,
                                 int64_t cols) {
  Shape target = batch;
  target.push_back(rows);
  target.push_back(cols);
  return ir::broadcast_operand(operand, target);
}

template <typename T>
compute_t<T> round_to(compute_t<T> v) {
  if constexpr (is_reduced_float_v<T>) {
    return load(store<T>(v));
  } else {
    return v;
  }
}

template <typename T>
void run_sdpa(KernelContext& ctx) {
  using C = compute_t<T>;
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  Tensor& y = ctx.output(0);
  const bool k_transposed = ctx.node.attrs.get_int("k_transposed", 0) != 0;
  const C scale = static_cast<C>(ctx.node.attrs.get_float("scale", 1.0f));
  const bool zero_nan_rows = ctx.node.attrs.get_int("zero_nan_rows", 0) != 0;

  const ir::OperandLayout qv = ir::attention_operand(ctx.node.attrs, 0, q.shape());
  const ir::OperandLayout kv = ir::attention_operand(ctx.node.attrs, 1, k.shape());
  const ir::OperandLayout vv = ir::attention_operand(ctx.node.attrs, 2, v.shape());
  const Shape &ql = qv.shape, &kl = kv.shape, &vl = vv.shape;
  const std::vector<int64_t> y_perm = ir::attention_perm(ctx.node.attrs, 3, y.rank());
  // The logical output shape: the stored one with y_perm undone.
  Shape out_shape(y.shape().size());
  for (size_t j = 0; j < y_perm.size(); ++j) out_shape[static_cast<size_t>(y_perm[j])] = y.dim(j);
  if (y_perm.empty()) out_shape = y.shape();
  const Shape batch(out_shape.begin(), out_shape.end() - 2);
  const int64_t sq = ql[ql.size() - 2], d = ql.back();
  const int64_t sk = k_transposed ? kl.back() : kl[kl.size() - 2];
  const int64_t dv = vl.back();
  const int64_t batches = shape_numel(batch);
  if (y.numel() == 0) return;

  const auto qs = strides_for(qv, batch, sq, d);
  const auto ks = k_transposed ? strides_for(kv, batch, d, sk) : strides_for(kv, batch, sk, d);
  const auto vs = strides_for(vv, batch, sk, dv);
  Shape scores = batch;
  scores.push_back(sq);
  scores.push_back(sk);
  const auto ms = mask ? broadcast_strides(mask->shape(), scores) : std::vector<int64_t>{};
  const auto ys = ir::attention_output_strides(out_shape, y_perm);
  const size_t nb = batch.size();
  // Row and column strides of K as [Sk, D] whichever way it is stored.
  const int64_t k_row = k_transposed ? ks[nb + 1] : ks[nb];
  const int64_t k_col = k_transposed ? ks[nb] : ks[nb + 1];

  const T* qp = q.data<T>() + qv.offset;
  const T* kp = k.data<T>() + kv.offset;
  const T* vp = v.data<T>() + vv.offset;
  const T* mp = mask ? mask->data<T>() : nullptr;
  T* yp = y.data<T>();
  const int64_t items = batches * sq;
  const bool parallel = items > 1 && items * sk * (d + dv) >= kParallelMinElements;
#pragma omp parallel if (parallel)
  {
    std::vector<C> scores(static_cast<size_t>(sk));
    std::vector<C> acc(static_cast<size_t>(dv));
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t b = item / sq, i = item % sq;
      int64_t qo = 0, ko = 0, vo = 0, mo = 0, yo = 0, rem = b;
      for (size_t dim = nb; dim-- > 0;) {
        const int64_t idx = rem % batch[dim];
        rem /= batch[dim];
        qo += idx * qs[dim];
        ko += idx * ks[dim];
        vo += idx * vs[dim];
        if (mp) mo += idx * ms[dim];
        yo += idx * ys[dim];
      }
      const T* qrow = qp + qo + i * qs[nb];
      C max = -std::numeric_limits<C>::infinity();
      for (int64_t j = 0; j < sk; ++j) {
        const T* krow = kp + ko + j * k_row;
        C dot = 0;
        for (int64_t t = 0; t < d; ++t) dot += load(qrow[t * qs[nb + 1]]) * load(krow[t * k_col]);
        C s = round_to<T>(round_to<T>(dot) * scale);
        if (mp) s = round_to<T>(s + load(mp[mo + i * ms[nb] + j * ms[nb + 1]]));
        scores[static_cast<size_t>(j)] = s;
        if (s > max) max = s;
      }
      C sum = 0;
      for (int64_t j = 0; j < sk; ++j) sum += std::exp(scores[static_cast<size_t>(j)] - max);
      const C inv = C(1) / sum;
      std::fill(acc.begin(), acc.end(), C(0));
      for (int64_t j = 0; j < sk; ++j) {
        C p = round_to<T>(std::exp(scores[static_cast<size_t>(j)] - max) * inv);
        if (zero_nan_rows && std::isnan(p)) p = C(0);
        const T* vrow = vp + vo + j * vs[nb];
        const int64_t vcol = vs[nb + 1];
        for (int64_t t = 0; t < dv; ++t) acc[static_cast<size_t>(t)] += p * load(vrow[t * vcol]);
      }
      T* yrow = yp + yo + i * ys[nb];
      for (int64_t t = 0; t < dv; ++t) yrow[t * ys[nb + 1]] = store<T>(acc[static_cast<size_t>(t)]);
    }
  }
}

void sdpa_kernel(KernelContext& ctx) {
  const DataType dtype = ctx.input(0).dtype();
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) {
      run_sdpa<T>(ctx);
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(dtype), " is not supported");
    }
  });
}

}  // namespace

void register_attention_scaled_dot_product_kernels(CpuKernelRegistry& r) {
  r.add("ScaledDotProductAttention", sdpa_kernel);
}

}  // namespace kiln::cpu
