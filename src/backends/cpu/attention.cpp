// CPU kernels of Attention and RotaryEmbedding. Both compute in double and round to the input's
// type at each point where the ONNX reference materializes an intermediate tensor (scaled Q and
// K, QK^T, softcap, bias add, softmax steps), so float16/bfloat16 results match it to the ulp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/families.hpp"
#include "backends/cpu/values_as_double.hpp"

namespace kiln::cpu {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// The sizes of one Attention call, in the 4-D (batch, heads, sequence, head_size) view.
struct AttentionDims {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_seq = 0, kv_seq = 0, past = 0, head = 0,
          v_head = 0;
  bool three_d = false;
  int64_t total() const { return past + kv_seq; }
};

AttentionDims attention_dims(const KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  AttentionDims d;
  d.batch = q.dim(0);
  d.three_d = q.rank() == 3;
  if (d.three_d) {
    d.q_heads = ctx.node.attrs.get_int("q_num_heads");
    d.kv_heads = ctx.node.attrs.get_int("kv_num_heads");
    d.q_seq = q.dim(1);
    d.kv_seq = k.dim(1);
    d.head = q.dim(2) / d.q_heads;
    d.v_head = v.dim(2) / d.kv_heads;
  } else {
    d.q_heads = q.dim(1);
    d.kv_heads = k.dim(1);
    d.q_seq = q.dim(2);
    d.kv_seq = k.dim(2);
    d.head = q.dim(3);
    d.v_head = v.dim(3);
  }
  if (ctx.has_input(4)) d.past = ctx.input(4).dim(2);
  return d;
}

// A Q/K/V input as (batch, heads, seq, size) doubles, from either layout.
std::vector<double> to_bhsd(const Tensor& t, bool three_d, int64_t heads, int64_t size) {
  std::vector<double> flat = to_doubles(t);
  if (!three_d) return flat;
  int64_t b = t.dim(0), s = t.dim(1);
  std::vector<double> out(flat.size());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t si = 0; si < s; ++si)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t x = 0; x < size; ++x)
          out[static_cast<size_t>(((bi * heads + h) * s + si) * size + x)] =
              flat[static_cast<size_t>((bi * s + si) * heads * size + h * size + x)];
  return out;
}

// past (batch, heads, past, size) followed by the new (batch, heads, seq, size) along seq.
std::vector<double> concat_past(const KernelContext& ctx, size_t past_input,
                                const std::vector<double>& now, const AttentionDims& d,
                                int64_t heads, int64_t size) {
  if (!ctx.has_input(past_input)) return now;
  std::vector<double> past = to_doubles(ctx.input(past_input));
  int64_t total = d.total();
  std::vector<double> out(static_cast<size_t>(d.batch * heads * total * size));
  for (int64_t bh = 0; bh < d.batch * heads; ++bh) {
    std::copy_n(past.begin() + bh * d.past * size, d.past * size, out.begin() + bh * total * size);
    std::copy_n(now.begin() + bh * d.kv_seq * size, d.kv_seq * size,
                out.begin() + bh * total * size + d.past * size);
  }
  return out;
}

// Where attn_mask's element for (b, h, i, j) lives: right-aligned broadcasting onto
// (batch, q_heads, q_seq, mask_len), the mask's last dim possibly shorter than the keys.
struct MaskIndex {
  std::vector<double> values;
  bool is_bool = false;
  int64_t len = 0;          // the mask's last dim
  int64_t strides[4] = {};  // per (b, h, i, j); 0 where broadcast

  int64_t offset(int64_t b, int64_t h, int64_t i, int64_t j) const {
    return b * strides[0] + h * strides[1] + i * strides[2] + j * strides[3];
  }
};

MaskIndex mask_index(const KernelContext& ctx, const AttentionDims& d) {
  MaskIndex m;
  const Tensor& t = ctx.input(3);
  m.values = to_doubles(t);
  m.is_bool = t.dtype() == DataType::kBool;
  m.len = t.dim(t.rank() - 1);
  if (m.len > d.total())
    ctx.fail(ErrorCode::kInvalidArgument, "attn_mask has ", m.len, " key positions but there are ",
             d.total(), " keys");
  const int64_t target[4] = {d.batch, d.q_heads, d.q_seq, m.len};
  const char* names[4] = {"batch", "q heads", "q sequence", "keys"};
  int64_t stride = 1;
  for (int64_t k = t.rank() - 1; k >= 0; --k) {
    int64_t axis = 4 - t.rank() + k;
    int64_t n = t.dim(k);
    if (n != 1 && n != target[axis])
      ctx.fail(ErrorCode::kInvalidArgument, "attn_mask of shape ", shape_to_string(t.shape()),
               " does not broadcast to the scores: its ", names[axis], " dim is ", n, ", not ",
               target[axis]);
    m.strides[axis] = n == 1 ? 0 : stride;
    stride *= n;
  }
  return m;
}

// Rounding of the softmax steps: to softmax_precision's type when given, else to T.
template <typename T>
RoundFn softmax_rounding(const ir::Node& node) {
  if (!node.attrs.has("softmax_precision")) return round_to<T>;
  switch (node.attrs.get_int("softmax_precision")) {
    case 10:
      return round_to<Half>;
    case 11:
      return round_to<double>;
    case 16:
      return round_to<BFloat16>;
    default:
      return round_to<float>;
  }
}

template <typename T>
void run_attention_typed(KernelContext& ctx) {
  const AttentionDims d = attention_dims(ctx);
  const auto& attrs = ctx.node.attrs;
  const int64_t total = d.total();
  const int64_t group = d.q_heads / d.kv_heads;

  std::vector<double> q = to_bhsd(ctx.input(0), d.three_d, d.q_heads, d.head);
  std::vector<double> k = concat_past(ctx, 4, to_bhsd(ctx.input(1), d.three_d, d.kv_heads, d.head),
                                      d, d.kv_heads, d.head);
  std::vector<double> v = concat_past(
      ctx, 5, to_bhsd(ctx.input(2), d.three_d, d.kv_heads, d.v_head), d, d.kv_heads, d.v_head);
  if (ctx.has_output(1)) from_doubles(ctx.output(1), k);
  if (ctx.has_output(2)) from_doubles(ctx.output(2), v);

  // Q and K are each scaled by sqrt(scale), rounded to T like the reference's Q * sqrt(scale).
  double scale = attrs.has("scale") ? static_cast<double>(attrs.get_float("scale"))
                                    : 1.0 / std::sqrt(static_cast<double>(d.head));
  const double root = round_to<T>(std::sqrt(scale));
  for (double& x : q) x = round_to<T>(x * root);
  for (double& x : k) x = round_to<T>(x * root);

  const double softcap = attrs.get_float("softcap", 0.0f);
  const double cap = round_to<T>(softcap);
  const int64_t mode = attrs.get_int("qk_matmul_output_mode", 0);
  const bool causal = attrs.get_int("is_causal", 0) != 0;
  const int64_t left = attrs.get_int("left_window_size", -1);
  const int64_t right = attrs.get_int("right_window_size", -1);
  const RoundFn round_p = softmax_rounding<T>(ctx.node);
  const bool bf16_sum = round_p == &round_to<BFloat16>;

  const bool has_mask = ctx.has_input(3);
  MaskIndex mask;
  if (has_mask) mask = mask_index(ctx, d);
  std::vector<int64_t> nonpad;
  if (ctx.has_input(6)) {
    const Tensor& n = ctx.input(6);
    if (n.numel() != d.batch)
      ctx.fail(ErrorCode::kInvalidArgument, "nonpad_kv_seqlen has ", n.numel(),
               " values for a batch of ", d.batch);
    nonpad.assign(n.data<int64_t>(), n.data<int64_t>() + n.numel());
    for (int64_t x : nonpad) {
      if (x < 0 || x > total)
        ctx.fail(ErrorCode::kInvalidArgument, "nonpad_kv_seqlen value ", x, " is outside [0, ",
                 total, "]");
    }
  }

  std::vector<double> y(static_cast<size_t>(d.batch * d.q_heads * d.q_seq * d.v_head));
  const bool want_qk = ctx.has_output(3);
  std::vector<double> qk_out(want_qk ? static_cast<size_t>(d.batch * d.q_heads * d.q_seq * total)
                                     : 0);

#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t h = 0; h < d.q_heads; ++h) {
      const int64_t kvh = h / group;
      const double* kb = k.data() + (b * d.kv_heads + kvh) * total * d.head;
      const double* vb = v.data() + (b * d.kv_heads + kvh) * total * d.v_head;
      // Keys before this query block: the internal cache, or per batch the external cache's
      // valid length minus the queries.
      const int64_t offset = ctx.has_input(4)  ? d.past
                             : !nonpad.empty() ? nonpad[static_cast<size_t>(b)] - d.q_seq
                                               : 0;
      std::vector<double> scores(static_cast<size_t>(total)), bias(static_cast<size_t>(total));
      for (int64_t i = 0; i < d.q_seq; ++i) {
        const double* qi = q.data() + ((b * d.q_heads + h) * d.q_seq + i) * d.head;
        bool all_masked = true;
        for (int64_t j = 0; j < total; ++j) {
          bool allowed = true;
          double add = 0;
          if (has_mask) {
            if (j >= mask.len) {
              allowed = false;  // the mask is padded with False / -inf to the key count
            } else {
              double m = mask.values[static_cast<size_t>(mask.offset(b, h, i, j))];
              if (mask.is_bool)
                allowed = m != 0;
              else
                add = m;
            }
          }
          const int64_t diff = i + offset - j;
          if (causal && diff < 0) allowed = false;
          if (left >= 0 && diff > left) allowed = false;
          if (right >= 0 && -diff > right) allowed = false;
          if (!nonpad.empty() && j >= nonpad[static_cast<size_t>(b)]) allowed = false;
          const double bj = allowed ? add : kNegInf;
          bias[static_cast<size_t>(j)] = bj;
          if (!(bj == kNegInf)) all_masked = false;

          double dot = 0;
          const double* kj = kb + j * d.head;
          for (int64_t x = 0; x < d.head; ++x) dot += qi[x] * kj[x];
          double s = round_to<T>(dot);
          if (softcap > 0) s = round_to<T>(round_to<T>(std::tanh(round_to<T>(s / cap))) * cap);
          scores[static_cast<size_t>(j)] = s;
        }
        double* qk_row =
            want_qk ? qk_out.data() + ((b * d.q_heads + h) * d.q_seq + i) * total : nullptr;
        if (want_qk && mode <= 1) std::copy(scores.begin(), scores.end(), qk_row);
        // Scores plus bias, in the softmax precision.
        double max = kNegInf;
        bool nan = false;
        for (int64_t j = 0; j < total; ++j) {
          auto ju = static_cast<size_t>(j);
          double s = round_to<T>(scores[ju] + bias[ju]);
          if (want_qk && mode == 2) qk_row[j] = s;
          s = round_p(s);
          scores[ju] = s;
          if (std::isnan(s)) nan = true;
          if (s > max) max = s;
        }
        if (nan) max = std::numeric_limits<double>::quiet_NaN();
        const double safe_max = max == kNegInf ? 0.0 : max;
        double sum = 0;
        for (double& s : scores) {
          s = round_p(std::exp(round_p(s - safe_max)));
          // numpy sums bfloat16 (an ml_dtypes type) one element at a time, rounding each step.
          sum = bf16_sum ? round_p(sum + s) : sum + s;
        }
        sum = round_p(sum);
        if (sum == 0) sum = 1;
        for (double& s : scores) s = all_masked ? 0.0 : round_to<T>(round_p(s / sum));
        if (want_qk && mode == 3) std::copy(scores.begin(), scores.end(), qk_row);
        for (int64_t x = 0; x < d.v_head; ++x) {
          double acc = 0;
          for (int64_t j = 0; j < total; ++j)
            acc += scores[static_cast<size_t>(j)] * vb[j * d.v_head + x];
          size_t at = d.three_d
                          ? static_cast<size_t>(((b * d.q_seq + i) * d.q_heads + h) * d.v_head + x)
                          : static_cast<size_t>(((b * d.q_heads + h) * d.q_seq + i) * d.v_head + x);
          y[at] = acc;
        }
      }
    }
  }
  from_doubles(ctx.output(0), y);
  if (want_qk) from_doubles(ctx.output(3), qk_out);
}

void run_attention(KernelContext& ctx) {
  visit_dtype(ctx.input(0).dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                  std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      run_attention_typed<T>(ctx);
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(ctx.input(0).dtype()),
               " is not supported");
    }
  });
}

template <typename T>
void run_rotary_typed(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool three_d = x.rank() == 3;
  const int64_t batch = x.dim(0);
  const int64_t heads = three_d ? ctx.node.attrs.get_int("num_heads") : x.dim(1);
  const int64_t seq = three_d ? x.dim(1) : x.dim(2);
  const int64_t head = three_d ? x.dim(2) / heads : x.dim(3);
  int64_t rot = ctx.node.attrs.get_int("rotary_embedding_dim", 0);
  if (rot == 0) rot = head;
  const int64_t half = rot / 2;
  const bool interleaved = ctx.node.attrs.get_int("interleaved", 0) != 0;
  std::vector<double> cos = to_doubles(ctx.input(1)), sin = to_doubles(ctx.input(2));
  const bool positions = ctx.has_input(3);
  const int64_t* pos = positions ? ctx.input(3).data<int64_t>() : nullptr;
  if (positions) {
    const Tensor& p = ctx.input(3);
    if (p.rank() != 2 || p.dim(0) != batch || p.dim(1) != seq)
      ctx.fail(ErrorCode::kInvalidArgument, "position_ids must have shape (", batch, ", ", seq,
               "), got ", shape_to_string(p.shape()));
    int64_t max_pos = ctx.input(1).dim(0);
    for (int64_t i = 0; i < p.numel(); ++i) {
      if (pos[i] < 0 || pos[i] >= max_pos)
        ctx.fail(ErrorCode::kInvalidArgument, "position id ", pos[i], " is outside the ", max_pos,
                 "-row cos/sin cache");
    }
  } else {
    const Tensor& c = ctx.input(1);
    if (c.dim(0) != batch || c.dim(1) != seq)
      ctx.fail(ErrorCode::kInvalidArgument, "cos_cache of shape ", shape_to_string(c.shape()),
               " does not match the input's batch ", batch, " and sequence ", seq);
  }
  const T* xp = x.data<T>();
  T* yp = ctx.output(0).data<T>();
  std::copy_n(xp, x.numel(), yp);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t s = 0; s < seq; ++s) {
      int64_t row = positions ? pos[b * seq + s] : b * seq + s;
      const double* cr = cos.data() + row * half;
      const double* sr = sin.data() + row * half;
      for (int64_t h = 0; h < heads; ++h) {
        int64_t base =
            three_d ? (b * seq + s) * heads * head + h * head : ((b * heads + h) * seq + s) * head;
        for (int64_t i = 0; i < half; ++i) {
          int64_t i1 = interleaved ? base + 2 * i : base + i;
          int64_t i2 = interleaved ? base + 2 * i + 1 : base + i + half;
          double x1 = static_cast<double>(load(xp[i1])), x2 = static_cast<double>(load(xp[i2]));
          double c = cr[i], sn = sr[i];
          double real = round_to<T>(round_to<T>(c * x1) - round_to<T>(sn * x2));
          double imag = round_to<T>(round_to<T>(sn * x1) + round_to<T>(c * x2));
          yp[i1] = store<T>(static_cast<compute_t<T>>(real));
          yp[i2] = store<T>(static_cast<compute_t<T>>(imag));
        }
      }
    }
  }
}

void run_rotary_embedding(KernelContext& ctx) {
  visit_dtype(ctx.input(0).dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, Half> ||
                  std::is_same_v<T, BFloat16>) {
      run_rotary_typed<T>(ctx);
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(ctx.input(0).dtype()),
               " is not supported");
    }
  });
}

}  // namespace

void register_attention_kernels(CpuKernelRegistry& r) {
  r.add("Attention", run_attention);
  r.add("RotaryEmbedding", run_rotary_embedding);
}

}  // namespace kiln::cpu
