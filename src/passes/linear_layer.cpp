// Scaling and shifting a linear layer's output channels through its weight, bias and alpha.
#include "passes/linear_layer.hpp"

#include <algorithm>

#include "backends/cpu/broadcast.hpp"
#include "core/error.hpp"
#include "core/float_types.hpp"

namespace kiln::passes {
namespace {

template <typename F>
void visit_float(DataType t, F&& f) {
  switch (t) {
    case DataType::kFloat32:
      return f(float{});
    case DataType::kFloat64:
      return f(double{});
    case DataType::kFloat16:
      return f(Half{});
    case DataType::kBFloat16:
      return f(BFloat16{});
    default:
      fail(ErrorCode::kInternal, "folding weights of dtype ", to_string(t));
  }
}

const ir::Value* input(const ir::Node* n, size_t i) {
  return n->input(i);
}

bool is_constant_or_absent(const ir::Value* v) {
  return !v || v->is_constant();
}

int64_t known_dim(const ir::Value* v, int64_t axis) {
  if (!v || !v->shape) return -1;
  auto rank = static_cast<int64_t>(v->shape->size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return -1;
  return (*v->shape)[static_cast<size_t>(axis)].value;
}

size_t rank_of(const ir::Value* v) {
  return v && v->shape ? v->shape->size() : 0;
}

bool is_conv_family(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "FusedConv";
}

bool is_transposed_conv(const ir::Node* n) {
  return n->op == "ConvTranspose" || (n->op == "FusedConv" && n->attrs.get_int("transposed", 0));
}

// A Gemm's or FusedMatMul's B is stored transposed ([.., N, K]).
bool b_transposed(const ir::Node* n) {
  return (n->op == "Gemm" || n->op == "FusedMatMul") && n->attrs.get_int("transB", 0) != 0;
}

// The values of `t` broadcast against `shape` (right-aligned), as doubles in `shape`'s layout.
std::vector<double> broadcast_values(const Shape& t_shape, const std::vector<double>& t,
                                     const Shape& shape) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(shape_numel(shape)));
  for (cpu::StridedWalk w(shape, {cpu::broadcast_strides(t_shape, shape)}); !w.done(); w.next())
    out.push_back(t[static_cast<size_t>(w.offset(0))]);
  return out;
}

// The right-aligned broadcast of two shapes whose dims are 1 or equal.
Shape broadcast_shape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < a.size(); ++i) out[out.size() - a.size() + i] = a[i];
  for (size_t i = 0; i < b.size(); ++i) {
    int64_t& d = out[out.size() - b.size() + i];
    d = std::max(d, b[i]);
  }
  return out;
}

// Replaces input `i` of the layer with a new constant holding `values`.
void set_constant_input(UseIndex& uses, ir::Node* n, size_t i, DataType dtype, Shape shape,
                        const std::vector<double>& values, const std::string& base) {
  ir::Graph& graph = uses.graph();
  ir::Value* c = graph.add_constant(graph.unique_value_name(base),
                                    from_doubles(dtype, std::move(shape), values));
  uses.set_input(n, i, c);
}

std::string folded_name(const ir::Node* n, const char* what) {
  return n->name + "_" + what + "_folded";
}

// The weight scaled per output channel, or nullopt when the weight is not a constant.
std::optional<std::vector<double>> scaled_weight(const LinearLayer& l,
                                                 const std::vector<double>& s) {
  const ir::Value* w = input(l.node, 1);
  if (!w || !w->is_constant()) return std::nullopt;
  const Tensor& t = *w->constant;
  std::vector<double> v = to_doubles(t);
  auto n = static_cast<int64_t>(v.size());
  if (n == 0) return v;
  if (l.conv && !is_transposed_conv(l.node)) {
    // [M, C/G, k...]
    int64_t per = n / t.dim(0);
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] *= s[static_cast<size_t>(i / per)];
  } else if (l.conv) {
    // [C, M/G, k...]; output channel (c / (C/G)) * M/G + m'.
    int64_t group = l.node->attrs.get_int("group", 1);
    int64_t c = t.dim(0), mg = t.dim(1), ks = n / (c * mg), cg = c / group;
    for (int64_t i = 0; i < n; ++i) {
      int64_t ci = i / (mg * ks), mm = (i / ks) % mg;
      v[static_cast<size_t>(i)] *= s[static_cast<size_t>((ci / cg) * mg + mm)];
    }
  } else {
    if (t.rank() < 2) return std::nullopt;
    int64_t cols = t.dim(t.rank() - 1);
    bool trans = b_transposed(l.node);
    for (int64_t i = 0; i < n; ++i) {
      int64_t col = trans ? (i / cols) % t.dim(t.rank() - 2) : i % cols;
      v[static_cast<size_t>(i)] *= s[static_cast<size_t>(col)];
    }
  }
  return v;
}

// MatMul -> FusedMatMul (same semantics, now with room for a bias and alpha).
bool to_fused_matmul(LinearLayer& l) {
  ir::Node* n = l.node;
  if (n->op == "FusedMatMul") return true;
  if (n->op != "MatMul" || rank_of(input(n, 0)) < 2 || rank_of(input(n, 1)) < 2) return false;
  n->op = "FusedMatMul";
  n->attrs.set_owner(n->describe());
  return true;
}

// Combines the matmul-family bias (input 2, constant or absent, times `bias_scale`) with `c`
// (shape, values) elementwise by `f`, into a new constant bias.
template <typename F>
void combine_bias(UseIndex& uses, LinearLayer& l, double bias_scale, const Shape& c_shape,
                  const std::vector<double>& c, F f) {
  ir::Node* n = l.node;
  const ir::Value* b = input(n, 2);
  Shape b_shape = b ? b->constant->shape() : Shape{};
  std::vector<double> bv = b ? to_doubles(*b->constant) : std::vector<double>{0.0};
  Shape shape = broadcast_shape(b_shape, c_shape);
  std::vector<double> x = broadcast_values(b_shape, bv, shape);
  std::vector<double> y = broadcast_values(c_shape, c, shape);
  for (size_t i = 0; i < x.size(); ++i) x[i] = f(bias_scale * x[i], y[i]);
  set_constant_input(uses, n, 2, n->output(0)->dtype, shape, x, folded_name(n, "bias"));
}

}  // namespace

bool is_foldable_float(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16 ||
         t == DataType::kBFloat16;
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  visit_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) {
        out[i] = p[i];
      } else {
        out[i] = static_cast<double>(static_cast<float>(p[i]));
      }
    }
  });
  return out;
}

Tensor from_doubles(DataType dtype, Shape shape, const std::vector<double>& values) {
  Tensor t(dtype, std::move(shape));
  visit_float(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) {
        p[i] = values[i];
      } else {
        p[i] = T(static_cast<float>(values[i]));
      }
    }
  });
  return t;
}

bool only_used_by(const UseIndex& uses, const ir::Value* v, const ir::Node* consumer) {
  if (!v || uses.is_graph_output(v)) return false;
  return uses.only_consumer(v) == consumer &&
         std::count(consumer->inputs.begin(), consumer->inputs.end(), v) == 1;
}

std::optional<LinearLayer> as_linear_layer(const ir::Node* node) {
  const std::string& op = node->op;
  bool conv = is_conv_family(op);
  if (!conv && op != "Gemm" && op != "MatMul" && op != "FusedMatMul") return std::nullopt;
  if (!node->domain.empty() || !node->output(0) || !input(node, 0) || !input(node, 1))
    return std::nullopt;
  if (op == "FusedConv" || op == "FusedMatMul") {
    // Only a purely linear fused layer can take more scaling or shifting.
    if (input(node, 3) || !node->attrs.get_string("activation", "").empty()) return std::nullopt;
  }
  const ir::Value* out = node->output(0);
  if (!is_foldable_float(out->dtype) || !out->shape || out->shape->empty()) return std::nullopt;
  LinearLayer l;
  l.node = const_cast<ir::Node*>(node);
  l.conv = conv;
  l.out_rank = out->shape->size();
  if (conv && l.out_rank < 3) return std::nullopt;
  if (!conv && (rank_of(input(node, 1)) < 2 || !input(node, 1)->shape)) return std::nullopt;
  l.channels = known_dim(out, static_cast<int64_t>(l.channel_axis()));
  if (l.channels <= 0) return std::nullopt;
  return l;
}

std::optional<std::vector<double>> per_channel_values(const LinearLayer& l, const Tensor& c) {
  if (c.dtype() != l.node->output(0)->dtype) return std::nullopt;
  const Shape& s = c.shape();
  if (s.size() > l.out_rank) return std::nullopt;
  size_t offset = l.out_rank - s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    bool channel_axis = offset + i == l.channel_axis();
    if (s[i] != 1 && !(channel_axis && s[i] == l.channels)) return std::nullopt;
  }
  std::vector<double> v = to_doubles(c);
  if (v.size() == 1) return std::vector<double>(static_cast<size_t>(l.channels), v[0]);
  if (static_cast<int64_t>(v.size()) != l.channels) return std::nullopt;
  return v;
}

bool scale_output_channels(UseIndex& uses, LinearLayer& l, const std::vector<double>& s) {
  ir::Node* n = l.node;
  DataType dtype = n->output(0)->dtype;
  const ir::Value* bias = input(n, 2);
  if (!is_constant_or_absent(bias) || static_cast<int64_t>(s.size()) != l.channels) return false;
  if (l.conv && bias && bias->constant->numel() != l.channels) return false;
  auto w = scaled_weight(l, s);
  if (w) {
    const ir::Value* wv = input(n, 1);
    set_constant_input(uses, n, 1, wv->dtype, wv->constant->shape(), *w, folded_name(n, "weight"));
  } else {
    // A runtime weight: a uniform scale still folds into the matmul family's alpha.
    bool uniform = std::all_of(s.begin(), s.end(), [&](double v) { return v == s[0]; });
    if (l.conv || !uniform) return false;
    if (n->op == "MatMul" && !to_fused_matmul(l)) return false;
    n->attrs.set("alpha", static_cast<float>(n->attrs.get_float("alpha", 1.0f) * s[0]));
    if (n->op == "Gemm") {
      // Gemm scales C by beta, which carries the scale too.
      n->attrs.set("beta", static_cast<float>(n->attrs.get_float("beta", 1.0f) * s[0]));
      return true;
    }
  }
  if (!bias) return true;
  if (l.conv) {
    std::vector<double> b = to_doubles(*bias->constant);
    for (size_t i = 0; i < b.size(); ++i) b[i] *= s[i];
    set_constant_input(uses, n, 2, dtype, bias->constant->shape(), b, folded_name(n, "bias"));
  } else {
    combine_bias(uses, l, 1.0, {l.channels}, s, [](double b, double k) { return b * k; });
  }
  return true;
}

bool shift_output_channels(UseIndex& uses, LinearLayer& l, const std::vector<double>& t) {
  ir::Node* n = l.node;
  const ir::Value* bias = input(n, 2);
  if (!is_constant_or_absent(bias) || static_cast<int64_t>(t.size()) != l.channels) return false;
  if (l.conv) {
    if (bias && bias->constant->numel() != l.channels) return false;
    std::vector<double> b = bias ? to_doubles(*bias->constant) : std::vector<double>(t.size(), 0);
    for (size_t i = 0; i < b.size(); ++i) b[i] += t[i];
    set_constant_input(uses, n, 2, n->output(0)->dtype, {l.channels}, b, folded_name(n, "bias"));
    return true;
  }
  if (n->op == "MatMul" && !to_fused_matmul(l)) return false;
  double beta = n->op == "Gemm" ? n->attrs.get_float("beta", 1.0f) : 1.0;
  combine_bias(uses, l, beta, {l.channels}, t, [](double b, double k) { return b + k; });
  if (n->op == "Gemm") n->attrs.set("beta", 1.0f);
  return true;
}

bool can_shift(const LinearLayer& l) {
  return is_constant_or_absent(input(l.node, 2)) &&
         (l.node->op != "MatMul" || rank_of(input(l.node, 0)) >= 2);
}

bool add_to_output(UseIndex& uses, LinearLayer& l, const Tensor& c) {
  if (auto t = per_channel_values(l, c)) return shift_output_channels(uses, l, *t);
  ir::Node* n = l.node;
  if (l.conv || c.dtype() != n->output(0)->dtype || !can_shift(l)) return false;
  // The MatMul family's bias takes any constant that broadcasts to the output one way.
  const Shape& cs = c.shape();
  if (cs.size() > l.out_rank) return false;
  const ir::SymShape& out = *n->output(0)->shape;
  for (size_t i = 0; i < cs.size(); ++i) {
    const ir::Dim& d = out[l.out_rank - cs.size() + i];
    if (cs[i] != 1 && !(d.known() && d.value == cs[i])) return false;
  }
  if (n->op == "MatMul" && !to_fused_matmul(l)) return false;
  double beta = n->op == "Gemm" ? n->attrs.get_float("beta", 1.0f) : 1.0;
  combine_bias(uses, l, beta, cs, to_doubles(c), [](double b, double k) { return b + k; });
  if (n->op == "Gemm") n->attrs.set("beta", 1.0f);
  return true;
}

void merge_origins(ir::Node* to, const ir::Node* from) {
  if (to->origins.empty()) to->origins.push_back(to->name);
  if (from->origins.empty()) {
    to->origins.push_back(from->name);
  } else {
    to->origins.insert(to->origins.end(), from->origins.begin(), from->origins.end());
  }
}

}  // namespace kiln::passes
