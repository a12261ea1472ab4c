// Inference for MatMul (numpy matmul: batched, broadcasting, 1-D operands), Gemm, Einsum and
// FusedMatMul, and their FLOP formulas.
// Batch dims broadcast symbolically; M and N keep their symbols.
#include <map>

#include "ir/flop_shapes.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/einsum_equation.hpp"
#include "ir/ops/families.hpp"
#include "ir/ops/fused_epilogue.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

bool is_matmul_dtype(DataType t) {
  switch (t) {
    case DataType::kFloat32:
    case DataType::kFloat64:
    case DataType::kFloat16:
    case DataType::kBFloat16:
    case DataType::kInt32:
    case DataType::kInt64:
    case DataType::kUInt32:
    case DataType::kUInt64:
      return true;
    default:
      return false;
  }
}

void check_same_dim(InferenceContext& ctx, const Dim& a, const Dim& b, const char* what) {
  if (a.known() && b.known() && a.value != b.value)
    ctx.fail(what, " of the operands differ: ", a.value, " vs ", b.value, " (shapes ",
             sym_shape_to_string(ctx.input(0).shape), " and ",
             sym_shape_to_string(ctx.input(1).shape), ")");
}

// The output of numpy matmul on operand shapes sa and sb (1-D operands promoted and dropped).
SymShape matmul_output(InferenceContext& ctx, SymShape sa, SymShape sb) {
  if (sa.empty() || sb.empty()) ctx.fail("operands must have rank 1 or more");
  bool a_vector = sa.size() == 1, b_vector = sb.size() == 1;
  if (a_vector) sa.insert(sa.begin(), Dim(1));
  if (b_vector) sb.push_back(Dim(1));
  check_same_dim(ctx, sa.back(), sb[sb.size() - 2], "inner dims (K)");
  auto batch = broadcast_shapes(
      ctx, {SymShape(sa.begin(), sa.end() - 2), SymShape(sb.begin(), sb.end() - 2)});
  SymShape out = *batch;
  if (!a_vector) out.push_back(sa[sa.size() - 2]);
  if (!b_vector) out.push_back(sb.back());
  return out;
}

void infer_matmul(InferenceContext& ctx) {
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  if (a.dtype != b.dtype)
    ctx.fail("operand dtypes differ: ", to_string(a.dtype), " and ", to_string(b.dtype));
  if (!is_matmul_dtype(a.dtype)) ctx.fail("dtype ", to_string(a.dtype), " is not supported");
  if (!a.shape || !b.shape) {
    ctx.set_output(0, a.dtype, std::nullopt);
    return;
  }
  ctx.set_output(0, a.dtype, matmul_output(ctx, *a.shape, *b.shape));
}

// FusedMatMul(A, B, bias?, Z?) = act(alpha * op(A) x op(B) + bias + Z) (or with Z added after the
// activation): MatMul's batched semantics, where transA/transB swap an operand's last two axes.
// Gemm is the 2-D case. bias broadcasts one way to the output; Z has the output's shape.
void infer_fused_matmul(InferenceContext& ctx) {
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  if (a.dtype != b.dtype)
    ctx.fail("operand dtypes differ: ", to_string(a.dtype), " and ", to_string(b.dtype));
  if (!is_floating(a.dtype) || a.dtype == DataType::kFloat8E4M3)
    ctx.fail("dtype ", to_string(a.dtype), " is not supported");
  if (ctx.has_input(2) && ctx.input(2).dtype != a.dtype)
    ctx.fail("bias dtype ", to_string(ctx.input(2).dtype), " differs from ", to_string(a.dtype));
  if (!a.shape || !b.shape) {
    ctx.set_output(0, a.dtype, std::nullopt);
    check_fused_epilogue(ctx, 3);
    return;
  }
  SymShape sa = *a.shape, sb = *b.shape;
  auto transpose_last = [&ctx](SymShape& s, const char* attr) {
    if (ctx.attrs().get_int(attr, 0) == 0) return;
    if (s.size() < 2) ctx.fail("attribute '", attr, "' needs an operand of rank 2 or more");
    std::swap(s[s.size() - 1], s[s.size() - 2]);
  };
  transpose_last(sa, "transA");
  transpose_last(sb, "transB");
  SymShape out = matmul_output(ctx, sa, sb);
  if (ctx.has_input(2) && ctx.input(2).shape) {
    const SymShape& c = *ctx.input(2).shape;
    bool ok = c.size() <= out.size();
    for (size_t i = 0; ok && i < c.size(); ++i) {
      const Dim& cd = c[i];
      const Dim& od = out[out.size() - c.size() + i];
      if (cd.known() && cd.value != 1 && od.known() && cd.value != od.value) ok = false;
    }
    if (!ok)
      ctx.fail("bias of shape ", sym_shape_to_string(c), " cannot broadcast to the output shape ",
               sym_shape_to_string(out));
  }
  ctx.set_output(0, a.dtype, out);
  check_fused_epilogue(ctx, 3);
}

void infer_gemm(InferenceContext& ctx) {
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  if (a.dtype != b.dtype)
    ctx.fail("operand dtypes differ: ", to_string(a.dtype), " and ", to_string(b.dtype));
  if (!is_matmul_dtype(a.dtype)) ctx.fail("dtype ", to_string(a.dtype), " is not supported");
  if (ctx.has_input(2) && ctx.input(2).dtype != a.dtype)
    ctx.fail("C dtype ", to_string(ctx.input(2).dtype), " differs from ", to_string(a.dtype));
  if (!a.shape || !b.shape) {
    ctx.set_output(0, a.dtype, std::nullopt);
    return;
  }
  if (a.shape->size() != 2 || b.shape->size() != 2)
    ctx.fail("A and B must be 2-D, got shapes ", sym_shape_to_string(a.shape), " and ",
             sym_shape_to_string(b.shape));
  bool ta = ctx.attrs().get_int("transA", 0) != 0;
  bool tb = ctx.attrs().get_int("transB", 0) != 0;
  const SymShape& sa = *a.shape;
  const SymShape& sb = *b.shape;
  Dim m = ta ? sa[1] : sa[0], ka = ta ? sa[0] : sa[1];
  Dim kb = tb ? sb[1] : sb[0], n = tb ? sb[0] : sb[1];
  check_same_dim(ctx, ka, kb, "inner dims (K)");
  SymShape out{m, n};
  if (ctx.has_input(2) && ctx.input(2).shape) {
    const SymShape& c = *ctx.input(2).shape;
    if (c.size() > 2) ctx.fail("C must have rank 2 or less, got ", sym_shape_to_string(c));
    // C broadcasts one way, to (M, N).
    for (size_t i = 0; i < c.size(); ++i) {
      const Dim& cd = c[i];
      const Dim& od = out[out.size() - c.size() + i];
      if (cd.known() && cd.value != 1 && od.known() && cd.value != od.value)
        ctx.fail("C of shape ", sym_shape_to_string(c),
                 " cannot broadcast to (M, N) = ", sym_shape_to_string(out));
    }
  }
  ctx.set_output(0, a.dtype, out);
}

void infer_einsum(InferenceContext& ctx) {
  DataType dtype = ctx.input(0).dtype;
  std::vector<int64_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const TensorType& t = ctx.input(i);
    if (t.dtype != dtype)
      ctx.fail("input ", i, " has dtype ", to_string(t.dtype), ", input 0 has ", to_string(dtype));
    if (!t.shape) {
      ctx.set_output(0, dtype, std::nullopt);
      return;
    }
    ranks.push_back(static_cast<int64_t>(t.shape->size()));
  }
  EinsumEquation eq = parse_einsum(ctx.attrs().get_string("equation"), ranks,
                                   [&ctx](const std::string& m) { ctx.fail(m); });
  std::vector<Dim> sizes(static_cast<size_t>(eq.num_labels), Dim(1));
  std::vector<bool> seen(sizes.size(), false);
  for (size_t k = 0; k < eq.operands.size(); ++k) {
    const SymShape& s = *ctx.input(k).shape;
    for (size_t ax = 0; ax < s.size(); ++ax) {
      auto l = static_cast<size_t>(eq.operands[k][ax]);
      const Dim& d = s[ax];
      bool broadcast = static_cast<int>(l) < eq.ellipsis_rank;
      if (!seen[l] || (broadcast && sizes[l].known() && sizes[l].value == 1)) {
        sizes[l] = d;
      } else if (d.known() && sizes[l].known() && d.value != sizes[l].value &&
                 !(broadcast && d.value == 1)) {
        ctx.fail("label sizes disagree: input ", k, " axis ", ax, " has size ", d.value,
                 ", elsewhere ", sizes[l].value);
      } else if (!sizes[l].known() && d.known() && !(broadcast && d.value == 1)) {
        sizes[l] = d;
      }
      seen[l] = true;
    }
  }
  SymShape out;
  for (int l : eq.output) out.push_back(sizes[static_cast<size_t>(l)]);
  ctx.set_output(0, dtype, out);
}

std::optional<double> gemm_flops(const Node& n, const FlopShapes& sh) {
  auto k = sh.dim(n.input(0), n.attrs.get_int("transA", 0) ? 0 : 1);
  auto out = sh.numel(n.output(0));
  if (!k || !out) return std::nullopt;
  return 2 * *out * *k + (n.input(2) ? *out : 0);
}

std::optional<double> matmul_flops(const Node& n, const FlopShapes& sh) {
  auto k = sh.dim(n.input(0), n.attrs.get_int("transA", 0) ? -2 : -1);
  auto out = sh.numel(n.output(0));
  if (!k || !out) return std::nullopt;
  return 2 * *out * *k;
}

// FusedMatMul: the product plus one op per output element for each of bias, residual and
// activation.
std::optional<double> fused_matmul_flops(const Node& n, const FlopShapes& sh) {
  auto linear = matmul_flops(n, sh);
  auto out = sh.numel(n.output(0));
  if (!linear || !out) return std::nullopt;
  double extra = (n.input(2) ? 1 : 0) + (n.input(3) ? 1 : 0) +
                 (n.attrs.get_string("activation", "").empty() ? 0 : 1);
  return *linear + extra * *out;
}

// Einsum: with one or two operands and no ellipsis, the work is one multiply-add per point of
// the space spanned by all index letters.
std::optional<double> einsum_flops(const Node& n, const FlopShapes& sh) {
  if (!n.attrs.has("equation")) return std::nullopt;
  std::string eq = n.attrs.get_string("equation");
  if (eq.find("...") != std::string::npos) return std::nullopt;
  std::string lhs = eq.substr(0, eq.find("->"));
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',') {
      terms.emplace_back();
    } else if (c != ' ') {
      terms.back() += c;
    }
  }
  if (terms.size() > 2 || terms.size() != n.inputs.size()) return std::nullopt;
  std::map<char, int64_t> sizes;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto s = sh.shape(n.input(i));
    if (!s || s->size() != terms[i].size()) return std::nullopt;
    for (size_t k = 0; k < s->size(); ++k) sizes[terms[i][k]] = (*s)[k];
  }
  double points = 1;
  for (const auto& [letter, size] : sizes) points *= static_cast<double>(size);
  return terms.size() == 2 ? 2 * points : points;
}

OpTraits matrix_work(FlopsFn flops, const char* host_fallback = nullptr) {
  return {.precision = {.cls = PrecisionClass::kMatrix},
          .flops = flops_from(flops),
          .host_fallback = host_fallback};
}

}  // namespace

void register_matmul_ops(OpRegistry& r) {
  r.add({"MatMul", 2, 2, 1, 1, infer_matmul}, matrix_work(matmul_flops));
  r.add({"Gemm", 2, 3, 1, 1, infer_gemm}, matrix_work(gemm_flops));
  r.add({"Einsum", 1, OpSchema::kVariadic, 1, 1, infer_einsum},
        matrix_work(einsum_flops,
                    "no CUDA kernel yet: a general equation runs the CPU's contraction"));
  r.add({"FusedMatMul", 2, 4, 1, 1, infer_fused_matmul}, matrix_work(fused_matmul_flops));
}

}  // namespace kiln::ir
