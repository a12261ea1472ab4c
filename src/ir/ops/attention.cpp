// Inference for the transformer ops Attention (opset 23+, with KV cache, GQA and masks) and
// RotaryEmbedding. Attention's outputs: Y like Q with V's head size, present_key/value in the
// 4-D (batch, kv_heads, past + kv_seq, head) layout, qk_matmul_output (batch, q_heads, q_seq,
// past + kv_seq).
#include <optional>

#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

Dim dim_at(const TensorType& t, size_t i) {
  return t.shape && i < t.shape->size() ? (*t.shape)[i] : Dim();
}

Dim dim_add(const InferenceContext& ctx, const Dim& a, const Dim& b) {
  return a.known() && b.known() ? Dim(checked_add(ctx, a.value, b.value)) : Dim();
}

Dim dim_mul(const InferenceContext& ctx, const Dim& a, const Dim& b) {
  return a.known() && b.known() ? Dim(checked_mul(ctx, a.value, b.value)) : Dim();
}

// Divides a 3-D input's hidden size into `heads` heads, failing when it does not split evenly.
Dim head_size(const InferenceContext& ctx, const Dim& hidden, int64_t heads, const char* what) {
  if (!hidden.known()) return Dim();
  if (hidden.value % heads != 0)
    ctx.fail(what, " hidden size ", hidden.value, " is not divisible by its ", heads, " heads");
  return Dim(hidden.value / heads);
}

// Fails when two known dims differ.
void require_same(const InferenceContext& ctx, const Dim& a, const Dim& b, const char* what) {
  if (a.known() && b.known() && a.value != b.value)
    ctx.fail(what, " disagree: ", a.value, " vs ", b.value);
}

void infer_attention(InferenceContext& ctx) {
  for (size_t i = 0; i < 3; ++i) require_float_input(ctx, i);
  const TensorType& q = ctx.input(0);
  const TensorType& k = ctx.input(1);
  const TensorType& v = ctx.input(2);
  if (k.dtype != q.dtype)
    ctx.fail("K has dtype ", to_string(k.dtype), ", Q has ", to_string(q.dtype));
  for (size_t i = 4; i < 6; ++i) {
    if (ctx.has_input(i)) require_float_input(ctx, i);
  }
  if (ctx.has_input(4) != ctx.has_input(5))
    ctx.fail("past_key and past_value must be given together");
  if (ctx.has_input(6)) {
    if (ctx.input(6).dtype != DataType::kInt64) ctx.fail("nonpad_kv_seqlen must be int64");
    if (ctx.has_input(4)) ctx.fail("nonpad_kv_seqlen cannot be combined with past_key/past_value");
  }
  int64_t mode = ctx.attrs().get_int("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) ctx.fail("qk_matmul_output_mode must be 0 to 3, got ", mode);
  for (const char* w : {"left_window_size", "right_window_size"}) {
    if (ctx.attrs().get_int(w, -1) < -1) ctx.fail("attribute '", w, "' must be -1 or more");
  }
  if (ctx.attrs().has("softmax_precision")) {
    int64_t p = ctx.attrs().get_int("softmax_precision");
    if (p != 1 && p != 10 && p != 11 && p != 16)
      ctx.fail("softmax_precision must be 1, 10, 11 or 16 (a float type), got ", p);
  }
  int64_t rank = q.rank();
  if (rank == -1) rank = k.rank() != -1 ? k.rank() : v.rank();
  if (rank != -1 && rank != 3 && rank != 4)
    ctx.fail("Q, K and V must be 3-D or 4-D, got rank ", rank);
  for (const TensorType* t : {&q, &k, &v}) {
    if (t->rank() != -1 && rank != -1 && t->rank() != rank)
      ctx.fail("Q, K and V must have one rank, got shapes ", sym_shape_to_string(q.shape), ", ",
               sym_shape_to_string(k.shape), ", ", sym_shape_to_string(v.shape));
  }
  if (rank == -1) {
    for (size_t i = 0; i < 4; ++i) {
      DataType t = i == 2 ? v.dtype : q.dtype;
      ctx.set_output(i, t, std::nullopt);
    }
    return;
  }
  Dim batch = dim_at(q, 0), q_seq, kv_seq = dim_at(k, rank == 3 ? 1 : 2), qh, kvh, d, dv;
  if (rank == 3) {
    if (!ctx.attrs().has("q_num_heads") || !ctx.attrs().has("kv_num_heads"))
      ctx.fail("3-D inputs need attributes q_num_heads and kv_num_heads");
    int64_t nq = ctx.attrs().get_int("q_num_heads"), nkv = ctx.attrs().get_int("kv_num_heads");
    if (nq <= 0 || nkv <= 0) ctx.fail("q_num_heads and kv_num_heads must be positive");
    qh = Dim(nq);
    kvh = Dim(nkv);
    q_seq = dim_at(q, 1);
    d = head_size(ctx, dim_at(q, 2), nq, "Q");
    require_same(ctx, d, head_size(ctx, dim_at(k, 2), nkv, "K"), "Q and K head sizes");
    dv = head_size(ctx, dim_at(v, 2), nkv, "V");
  } else {
    if (ctx.attrs().has("q_num_heads") || ctx.attrs().has("kv_num_heads")) {
      // Opset 25 forbids them on 4-D inputs; earlier models may carry matching values.
      if (ctx.attrs().get_int("q_num_heads", dim_at(q, 1).value) != dim_at(q, 1).value ||
          ctx.attrs().get_int("kv_num_heads", dim_at(k, 1).value) != dim_at(k, 1).value)
        ctx.fail("q_num_heads/kv_num_heads disagree with the 4-D inputs' head counts");
    }
    qh = dim_at(q, 1);
    kvh = dim_at(k, 1);
    require_same(ctx, kvh, dim_at(v, 1), "K and V head counts");
    q_seq = dim_at(q, 2);
    d = dim_at(q, 3);
    require_same(ctx, d, dim_at(k, 3), "Q and K head sizes");
    dv = dim_at(v, 3);
  }
  require_same(ctx, batch, dim_at(k, 0), "Q and K batch sizes");
  require_same(ctx, batch, dim_at(v, 0), "Q and V batch sizes");
  require_same(ctx, kv_seq, dim_at(v, rank == 3 ? 1 : 2), "K and V sequence lengths");
  if (qh.known() && kvh.known() && (kvh.value == 0 || qh.value % kvh.value != 0))
    ctx.fail("q heads (", qh.value, ") must be a multiple of kv heads (", kvh.value, ")");
  Dim total = kv_seq;
  if (ctx.has_input(4)) {
    const TensorType& pk = ctx.input(4);
    const TensorType& pv = ctx.input(5);
    if ((pk.rank() != -1 && pk.rank() != 4) || (pv.rank() != -1 && pv.rank() != 4))
      ctx.fail("past_key and past_value must be 4-D (batch, kv_heads, past_seq, head_size)");
    require_same(ctx, dim_at(pk, 1), kvh, "past_key and K head counts");
    require_same(ctx, dim_at(pk, 3), d, "past_key and K head sizes");
    require_same(ctx, dim_at(pv, 3), dv, "past_value and V head sizes");
    require_same(ctx, dim_at(pk, 2), dim_at(pv, 2), "past_key and past_value lengths");
    total = dim_add(ctx, kv_seq, dim_at(pk, 2));
  }
  if (ctx.has_input(3) && ctx.input(3).rank() > 4)
    ctx.fail("attn_mask must have rank 4 or less, got ", ctx.input(3).rank());
  if (ctx.has_input(3) && ctx.input(3).rank() == 0) ctx.fail("attn_mask must not be a scalar");
  if (rank == 3)
    ctx.set_output(0, q.dtype, SymShape{batch, q_seq, dim_mul(ctx, qh, dv)});
  else
    ctx.set_output(0, q.dtype, SymShape{batch, qh, q_seq, dv});
  ctx.set_output(1, q.dtype, SymShape{batch, kvh, total, d});
  ctx.set_output(2, v.dtype, SymShape{batch, kvh, total, dv});
  ctx.set_output(3, q.dtype, SymShape{batch, qh, q_seq, total});
}

void infer_rotary_embedding(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  DataType t = x.dtype;
  if (t != DataType::kFloat32 && t != DataType::kFloat16 && t != DataType::kBFloat16)
    ctx.fail("X has dtype ", to_string(t), "; RotaryEmbedding takes float32, float16, bfloat16");
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.input(i).dtype != t)
      ctx.fail("input ", i, " has dtype ", to_string(ctx.input(i).dtype), ", X has ", to_string(t));
  }
  bool positions = ctx.has_input(3);
  if (positions && ctx.input(3).dtype != DataType::kInt64) ctx.fail("position_ids must be int64");
  if (x.rank() != -1 && x.rank() != 3 && x.rank() != 4)
    ctx.fail("X must be 3-D or 4-D, got ", sym_shape_to_string(x.shape));
  int64_t rot = ctx.attrs().get_int("rotary_embedding_dim", 0);
  if (rot < 0 || rot % 2 != 0) ctx.fail("rotary_embedding_dim must be even and >= 0, got ", rot);
  Dim head;
  if (x.rank() == 3) {
    int64_t heads = ctx.attrs().get_int("num_heads", 0);
    if (heads <= 0) ctx.fail("3-D input needs a positive num_heads attribute");
    head = head_size(ctx, dim_at(x, 2), heads, "X");
  } else if (x.rank() == 4) {
    head = dim_at(x, 3);
  }
  if (head.known()) {
    if (rot == 0 && head.value % 2 != 0) ctx.fail("head size ", head.value, " must be even");
    if (rot > head.value)
      ctx.fail("rotary_embedding_dim ", rot, " exceeds the head size ", head.value);
  }
  int64_t cache_rank = positions ? 2 : 3;
  for (size_t i = 1; i < 3; ++i) {
    const TensorType& c = ctx.input(i);
    if (c.rank() != -1 && c.rank() != cache_rank)
      ctx.fail("input ", i, " must be ", cache_rank, "-D ",
               positions ? "(max_position, rotary_dim / 2) with position_ids"
                         : "(batch, sequence, rotary_dim / 2) without position_ids",
               ", got ", sym_shape_to_string(c.shape));
    Dim half = dim_at(c, static_cast<size_t>(cache_rank - 1));
    Dim expected = rot > 0 ? Dim(rot / 2) : (head.known() ? Dim(head.value / 2) : Dim());
    require_same(ctx, half, expected, "cos/sin cache width and rotary_embedding_dim / 2");
  }
  ctx.set_output(0, t, x.shape);
}

}  // namespace

void register_attention_ops(OpRegistry& r) {
  r.add({"Attention", 3, 7, 1, 4, infer_attention},
        {.precision = {.cls = PrecisionClass::kMatrix},
         .host_fallback = "no CUDA kernel yet: exporters write attention as MatMul, Softmax "
                          "and MatMul, which recognize_attention turns into "
                          "ScaledDotProductAttention"});
  r.add({"RotaryEmbedding", 3, 4, 1, 1, infer_rotary_embedding},
        {.host_fallback = "no CUDA kernel yet: exporters write it as its parts"});
}

}  // namespace kiln::ir
