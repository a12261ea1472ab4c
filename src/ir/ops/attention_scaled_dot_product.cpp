// Inference for ScaledDotProductAttention, the fused attention layer recognize_attention builds:
//   Y = Softmax(scale * Q @ K^T + mask, axis=-1) @ V
// Q [..., Sq, D]; K [..., Sk, D], or [..., D, Sk] with k_transposed=1; V [..., Sk, Dv]; the
// optional additive mask broadcasts to [..., Sq, Sk]. Batch dims broadcast as MatMul's do.
// zero_nan_rows=1 replaces NaN probabilities by 0 (a row whose keys are all masked with -inf gives
// 0, not NaN), as the Where(IsNaN(P), 0, P) guard of PyTorch's attention exports does.
// q_perm/k_perm/v_perm/y_perm store an operand permuted and q_view/k_view/v_view read one as a
// strided view of its input (ir/attention_layout.hpp): the shapes above are the logical ones.
#include "ir/attention_layout.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void check_dim(InferenceContext& ctx, const Dim& a, const Dim& b, const char* what) {
  if (a.known() && b.known() && a.value != b.value)
    ctx.fail(what, " differ: ", a.value, " vs ", b.value);
}

void infer_sdpa(InferenceContext& ctx) {
  const DataType dtype = ctx.input(0).dtype;
  if (dtype != DataType::kFloat32 && dtype != DataType::kFloat64 && dtype != DataType::kFloat16 &&
      dtype != DataType::kBFloat16)
    ctx.fail("dtype ", to_string(dtype), " is not supported");
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i) && ctx.input(i).dtype != dtype)
      ctx.fail("input ", i, " has dtype ", to_string(ctx.input(i).dtype), ", Q has ",
               to_string(dtype));
  }
  if (!ctx.input(0).shape || !ctx.input(1).shape || !ctx.input(2).shape) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  for (size_t i = 0; i < 3; ++i) {
    if (ctx.input(i).rank() < 2)
      ctx.fail("input ", i, " must have rank 2 or more, has shape ",
               sym_shape_to_string(ctx.input(i).shape));
  }
  std::optional<SymShape> logical[3];
  for (int i = 0; i < 3; ++i) {
    const SymShape& stored = *ctx.input(static_cast<size_t>(i)).shape;
    try {
      logical[i] = attention_operand_shape(ctx.attrs(), i, stored);
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
  }
  const auto& q = logical[0];
  const auto& k = logical[1];
  const auto& v = logical[2];
  const bool k_transposed = ctx.attrs().get_int("k_transposed", 0) != 0;
  const Dim& sk = k_transposed ? k->back() : (*k)[k->size() - 2];
  const Dim& dk = k_transposed ? (*k)[k->size() - 2] : k->back();
  check_dim(ctx, q->back(), dk, "the head sizes of Q and K");
  check_dim(ctx, sk, (*v)[v->size() - 2], "the key counts of K and V");
  auto batch =
      broadcast_shapes(ctx, {SymShape(q->begin(), q->end() - 2), SymShape(k->begin(), k->end() - 2),
                             SymShape(v->begin(), v->end() - 2)});
  SymShape out = *batch;
  out.push_back((*q)[q->size() - 2]);
  out.push_back(v->back());
  if (ctx.has_input(3) && ctx.input(3).shape) {
    // The mask must broadcast to the scores without enlarging them.
    SymShape scores = *batch;
    scores.push_back((*q)[q->size() - 2]);
    scores.push_back(sk);
    auto masked = broadcast_shapes(ctx, {scores, ctx.input(3).shape});
    if (masked->size() != scores.size()) ctx.fail("the mask has a higher rank than the scores");
    for (size_t d = 0; d < scores.size(); ++d) {
      if ((*masked)[d].known() && scores[d].known() && (*masked)[d].value != scores[d].value)
        ctx.fail("the mask ", sym_shape_to_string(ctx.input(3).shape), " enlarges the scores ",
                 sym_shape_to_string(scores));
    }
  }
  try {
    ctx.set_output(0, dtype, permuted(out, attention_perm(ctx.attrs(), 3, out.size())));
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

}  // namespace

void register_attention_scaled_dot_product_ops(OpRegistry& r) {
  r.add({"ScaledDotProductAttention", 3, 4, 1, 1, infer_sdpa},
        {.precision = {.cls = PrecisionClass::kMatrix}});
}

}  // namespace kiln::ir
