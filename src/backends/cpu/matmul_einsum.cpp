// Einsum on the CPU. Two-operand float32 contractions shaped like a (batched) matmul are permuted
// into [batch, M, K] x [batch, K, N] and run through oneDNN; everything else (diagonals, sums,
// broadcasting, any number of operands, other dtypes) runs a general loop over all labels.
#include <numeric>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/matmul.hpp"
#include "ir/ops/einsum_equation.hpp"

namespace kiln::cpu {
namespace {

struct EinsumPlan {
  ir::EinsumEquation eq;
  std::vector<int64_t> sizes;                 // per label
  std::vector<std::vector<int64_t>> strides;  // per operand, per label (0: absent or broadcast)
  std::vector<int> contracted;                // labels summed over
};

EinsumPlan einsum_plan(const KernelContext& ctx) {
  EinsumPlan p;
  std::vector<int64_t> ranks;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) ranks.push_back(ctx.input(i).rank());
  p.eq =
      ir::parse_einsum(ctx.node.attrs.get_string("equation"), ranks,
                       [&ctx](const std::string& m) { ctx.fail(ErrorCode::kInvalidArgument, m); });
  auto labels = static_cast<size_t>(p.eq.num_labels);
  p.sizes.assign(labels, 1);
  for (size_t k = 0; k < p.eq.operands.size(); ++k) {
    const Shape& s = ctx.input(k).shape();
    for (size_t ax = 0; ax < s.size(); ++ax) {
      auto l = static_cast<size_t>(p.eq.operands[k][ax]);
      if (s[ax] != 1) p.sizes[l] = s[ax];
    }
  }
  for (size_t k = 0; k < p.eq.operands.size(); ++k) {
    const Shape& s = ctx.input(k).shape();
    std::vector<int64_t> cs = contiguous_strides(s);
    std::vector<int64_t> st(labels, 0);
    for (size_t ax = 0; ax < s.size(); ++ax) {
      auto l = static_cast<size_t>(p.eq.operands[k][ax]);
      if (s[ax] == p.sizes[l]) {
        st[l] += cs[ax];
      } else if (s[ax] != 1) {
        ctx.fail(ErrorCode::kInvalidArgument, "input ", k, " axis ", ax, " has size ", s[ax],
                 " but its label has size ", p.sizes[l]);
      }
    }
    p.strides.push_back(std::move(st));
  }
  std::vector<bool> in_output(labels, false);
  for (int l : p.eq.output) in_output[static_cast<size_t>(l)] = true;
  std::vector<bool> used(labels, false);
  for (const auto& op : p.eq.operands)
    for (int l : op) used[static_cast<size_t>(l)] = true;
  for (size_t l = 0; l < labels; ++l) {
    if (used[l] && !in_output[l]) p.contracted.push_back(static_cast<int>(l));
  }
  return p;
}

// Accumulation type: double for floats, wrapping unsigned arithmetic for integers (like numpy),
// logical or-of-ands for bool.
template <typename T>
struct EinsumAccOf {
  using type = double;
};
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) struct EinsumAccOf<T> {
  using type = std::make_unsigned_t<T>;
};
template <>
struct EinsumAccOf<bool> {
  using type = bool;
};
template <typename T>
using EinsumAcc = typename EinsumAccOf<T>::type;

template <typename T>
void einsum_reference(const KernelContext& ctx, const EinsumPlan& p, Tensor& y) {
  using A = EinsumAcc<T>;
  size_t n_ops = p.eq.operands.size();
  std::vector<const T*> data;
  for (size_t k = 0; k < n_ops; ++k) data.push_back(ctx.input(k).data<T>());
  Shape out_shape, sum_shape;
  for (int l : p.eq.output) out_shape.push_back(p.sizes[static_cast<size_t>(l)]);
  for (int l : p.contracted) sum_shape.push_back(p.sizes[static_cast<size_t>(l)]);
  std::vector<std::vector<int64_t>> out_strides(n_ops), sum_strides(n_ops);
  for (size_t k = 0; k < n_ops; ++k) {
    for (int l : p.eq.output) out_strides[k].push_back(p.strides[k][static_cast<size_t>(l)]);
    for (int l : p.contracted) sum_strides[k].push_back(p.strides[k][static_cast<size_t>(l)]);
  }
  T* out = y.data<T>();
  int64_t total = shape_numel(out_shape);
#pragma omp parallel for if (total > 1024)
  for (int64_t o = 0; o < total; ++o) {
    std::vector<int64_t> base(n_ops, 0);
    int64_t flat = o;
    for (size_t i = out_shape.size(); i-- > 0;) {
      int64_t c = flat % out_shape[i];
      flat /= out_shape[i];
      for (size_t k = 0; k < n_ops; ++k) base[k] += c * out_strides[k][i];
    }
    A acc{};
    for (StridedWalk w(sum_shape, sum_strides); !w.done(); w.next()) {
      A prod = static_cast<A>(load(data[0][base[0] + w.offset(0)]));
      for (size_t k = 1; k < n_ops; ++k) {
        if constexpr (std::is_same_v<A, bool>)
          prod = prod && static_cast<bool>(data[k][base[k] + w.offset(k)]);
        else
          prod = static_cast<A>(prod * static_cast<A>(load(data[k][base[k] + w.offset(k)])));
      }
      if constexpr (std::is_same_v<A, bool>)
        acc = acc || prod;
      else
        acc = static_cast<A>(acc + prod);
    }
    out[o] = store<T>(static_cast<compute_t<T>>(acc));
  }
}

// Copies `src` (read through per-axis `strides` over `shape`) into contiguous `dst`.
void gather(const float* src, const Shape& shape, const std::vector<int64_t>& strides, float* dst) {
  for (StridedWalk w(shape, {strides}); !w.done(); w.next()) *dst++ = src[w.offset(0)];
}

// The matmul route: returns false when the equation is not a plain (batched) contraction.
bool einsum_as_matmul(const KernelContext& ctx, const EinsumPlan& p, Tensor& y) {
  if (p.eq.operands.size() != 2 || y.dtype() != DataType::kFloat32) return false;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  auto labels = static_cast<size_t>(p.eq.num_labels);
  std::vector<int> in_a(labels, 0), in_b(labels, 0), in_out(labels, 0);
  for (size_t ax = 0; ax < p.eq.operands[0].size(); ++ax) {
    auto l = static_cast<size_t>(p.eq.operands[0][ax]);
    if (++in_a[l] > 1 || a.dim(static_cast<int64_t>(ax)) != p.sizes[l]) return false;
  }
  for (size_t ax = 0; ax < p.eq.operands[1].size(); ++ax) {
    auto l = static_cast<size_t>(p.eq.operands[1][ax]);
    if (++in_b[l] > 1 || b.dim(static_cast<int64_t>(ax)) != p.sizes[l]) return false;
  }
  for (int l : p.eq.output) in_out[static_cast<size_t>(l)] = 1;
  std::vector<int> batch, m, n, k;
  for (int l : p.eq.output) {
    auto i = static_cast<size_t>(l);
    if (in_a[i] && in_b[i])
      batch.push_back(l);
    else if (in_a[i])
      m.push_back(l);
    else
      n.push_back(l);
  }
  for (int l : p.eq.operands[0]) {
    auto i = static_cast<size_t>(l);
    if (!in_out[i]) {
      if (!in_b[i]) return false;  // summed over A alone
      k.push_back(l);
    }
  }
  for (int l : p.eq.operands[1]) {
    auto i = static_cast<size_t>(l);
    if (!in_out[i] && !in_a[i]) return false;  // summed over B alone
  }
  auto size_of = [&](const std::vector<int>& ls) {
    int64_t s = 1;
    for (int l : ls) s *= p.sizes[static_cast<size_t>(l)];
    return s;
  };
  auto permuted = [&](size_t op, std::vector<std::vector<int>> groups) {
    Shape shape;
    std::vector<int64_t> strides;
    for (const auto& g : groups)
      for (int l : g) {
        shape.push_back(p.sizes[static_cast<size_t>(l)]);
        strides.push_back(p.strides[op][static_cast<size_t>(l)]);
      }
    std::vector<float> buf(static_cast<size_t>(shape_numel(shape)));
    gather(ctx.input(op).data<float>(), shape, strides, buf.data());
    return buf;
  };
  int64_t nb = size_of(batch), nm = size_of(m), nk = size_of(k), nn = size_of(n);
  if (nb * nm * nk * nn == 0) return false;
  std::vector<float> pa = permuted(0, {batch, m, k}), pb = permuted(1, {batch, k, n});
  std::vector<float> product(static_cast<size_t>(nb * nm * nn));
  batched_matmul_f32(pa.data(), pb.data(), product.data(), nb, nm, nk, nn);
  // product is laid out [batch, m, n]; scatter it into the output's label order.
  Shape shape;
  std::vector<int64_t> out_strides;
  std::vector<int64_t> y_strides = contiguous_strides(y.shape());
  for (const auto* g : {&batch, &m, &n}) {
    for (int l : *g) {
      shape.push_back(p.sizes[static_cast<size_t>(l)]);
      size_t pos = static_cast<size_t>(std::find(p.eq.output.begin(), p.eq.output.end(), l) -
                                       p.eq.output.begin());
      out_strides.push_back(y_strides[pos]);
    }
  }
  float* out = y.data<float>();
  const float* src = product.data();
  for (StridedWalk w(shape, {out_strides}); !w.done(); w.next()) out[w.offset(0)] = *src++;
  return true;
}

void run_einsum(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  EinsumPlan plan = einsum_plan(ctx);
  if (y.numel() == 0) return;
  if (einsum_as_matmul(ctx, plan, y)) return;
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
    } else {
      einsum_reference<T>(ctx, plan, y);
    }
  });
}

}  // namespace

void register_matmul_einsum_kernels(CpuKernelRegistry& r) {
  r.add("Einsum", run_einsum);
}

}  // namespace kiln::cpu
