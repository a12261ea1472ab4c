// Per-op FLOP formulas and graph totals. Formulas follow the usual conventions of model zoos
// (one multiply-add = 2 FLOPs), so numbers compare with what papers and other tools report.
#include "ir/graph_stats.hpp"

#include <set>
#include <string_view>
#include <unordered_set>

namespace kiln::ir {
namespace {

// clang-format off
// Ops that move or reinterpret data without arithmetic.
const std::unordered_set<std::string_view> kDataMovement = {
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Rearrange", "Identity", "Shape", "Size",
    "Gather", "GatherElements", "GatherND", "Slice", "Concat", "Split", "Expand", "Tile", "Pad",
    "Constant", "ConstantOfShape", "Dropout", "Cast", "CastLike", "DepthToSpace", "SpaceToDepth",
    "ScatterElements", "ScatterND", "Range", "NonZero", "Trilu", "EyeLike", "OneHot", "Compress",
    "ReverseSequence", "Resize", "Upsample", "TopK", "ArgMax", "ArgMin", "QuantizeLinear",
    "DequantizeLinear"};

// Elementwise ops: ~1 FLOP per output element.
const std::unordered_set<std::string_view> kElementwise = {
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Neg", "Abs", "Reciprocal", "Sqrt", "Exp", "Log",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Softplus", "Softsign", "Gelu", "Mish", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Floor", "Ceil", "Round", "Sign", "Clip",
    "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf", "BitShift", "BitwiseAnd",
    "BitwiseOr", "BitwiseXor", "BitwiseNot", "ThresholdedRelu", "Shrink"};

// FLOPs per element of the larger of input 0 / output 0.
const std::map<std::string_view, double> kPerElement = {
    {"BatchNormalization", 2},  // scale and shift, after folding the statistics
    {"InstanceNormalization", 5}, {"LayerNormalization", 5}, {"GroupNormalization", 5},
    {"LpNormalization", 3}, {"MeanVarianceNormalization", 5}, {"Softmax", 3},
    {"LogSoftmax", 4}, {"Hardmax", 1}, {"ReduceSum", 1}, {"ReduceMean", 1}, {"ReduceMax", 1},
    {"ReduceMin", 1}, {"ReduceProd", 1}, {"ReduceL1", 2}, {"ReduceL2", 2}, {"ReduceSumSquare", 2},
    {"ReduceLogSum", 1}, {"ReduceLogSumExp", 2}, {"GlobalAveragePool", 1}, {"GlobalMaxPool", 1},
    {"CumSum", 1}};
// clang-format on

// Reads shapes for the formulas. With `as_one` set, an unknown dimension of a known rank counts
// as 1 and its symbol is recorded, so a model with a symbolic batch still gets per-sample FLOPs.
struct Shapes {
  std::set<std::string>* as_one = nullptr;

  std::optional<Shape> shape(const Value* v) const {
    if (!v || !v->shape) return std::nullopt;
    Shape s;
    for (const Dim& d : *v->shape) {
      if (d.known()) {
        s.push_back(d.value);
      } else if (as_one) {
        as_one->insert(d.symbol.empty() ? "?" : d.symbol);
        s.push_back(1);
      } else {
        return std::nullopt;
      }
    }
    return s;
  }

  std::optional<double> numel(const Value* v) const {
    auto s = shape(v);
    if (!s) return std::nullopt;
    double n = 1;
    for (int64_t d : *s) n *= static_cast<double>(d);
    return n;
  }

  // The size of one dimension (negative: from the back).
  std::optional<double> dim(const Value* v, int64_t axis) const {
    auto s = shape(v);
    if (!s) return std::nullopt;
    auto rank = static_cast<int64_t>(s->size());
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return std::nullopt;
    return static_cast<double>((*s)[static_cast<size_t>(axis)]);
  }
};

double product(const Shape& s, size_t from, size_t to) {
  double p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= static_cast<double>(s[i]);
  return p;
}

// Conv: every output element is a dot product over (C/group) * kernel elements of the weight.
std::optional<double> conv_flops(const Node& n, const Shapes& sh) {
  auto out = sh.numel(n.output(0));
  auto w = sh.shape(n.input(1));
  if (!out || !w || w->size() < 2) return std::nullopt;
  double macs = *out * product(*w, 1, w->size());
  return 2 * macs + (n.input(2) ? *out : 0);
}

// ConvTranspose: every input element is scattered through (M/group) * kernel weights.
std::optional<double> conv_transpose_flops(const Node& n, const Shapes& sh) {
  auto in = sh.numel(n.input(0));
  auto w = sh.shape(n.input(1));
  auto out = sh.numel(n.output(0));
  if (!in || !w || w->size() < 2) return std::nullopt;
  double macs = *in * product(*w, 1, w->size());
  return 2 * macs + (n.input(2) && out ? *out : 0);
}

std::optional<double> gemm_flops(const Node& n, const Shapes& sh) {
  auto k = sh.dim(n.input(0), n.attrs.get_int("transA", 0) ? 0 : 1);
  auto out = sh.numel(n.output(0));
  if (!k || !out) return std::nullopt;
  return 2 * *out * *k + (n.input(2) ? *out : 0);
}

std::optional<double> matmul_flops(const Node& n, const Shapes& sh) {
  auto k = sh.dim(n.input(0), n.attrs.get_int("transA", 0) ? -2 : -1);
  auto out = sh.numel(n.output(0));
  if (!k || !out) return std::nullopt;
  return 2 * *out * *k;
}

// A fused layer: its linear part plus one op per output element for each of bias, residual and
// activation it applies.
std::optional<double> fused_flops(const Node& n, const Shapes& sh) {
  bool conv = n.op == "FusedConv";
  auto linear = !conv                              ? matmul_flops(n, sh)
                : n.attrs.get_int("transposed", 0) ? conv_transpose_flops(n, sh)
                                                   : conv_flops(n, sh);
  auto out = sh.numel(n.output(0));
  if (!linear || !out) return std::nullopt;
  double extra = (!conv && n.input(2) ? 1 : 0) + (n.input(3) ? 1 : 0) +
                 (n.attrs.get_string("activation", "").empty() ? 0 : 1);
  return *linear + extra * *out;
}

// Einsum: with one or two operands and no ellipsis, the work is one multiply-add per point of
// the space spanned by all index letters.
std::optional<double> einsum_flops(const Node& n, const Shapes& sh) {
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

// Pooling with a window: one op per window element per output element.
std::optional<double> pool_flops(const Node& n, const Shapes& sh) {
  auto out = sh.numel(n.output(0));
  if (!out || !n.attrs.has("kernel_shape")) return std::nullopt;
  return *out * product(n.attrs.get_ints("kernel_shape"), 0, 64);
}

}  // namespace

std::optional<double> node_flops(const Node& n, std::set<std::string>* symbols_as_one) {
  Shapes sh{symbols_as_one};
  if (kDataMovement.count(n.op)) return 0.0;
  if (n.op == "Conv") return conv_flops(n, sh);
  if (n.op == "ConvTranspose") return conv_transpose_flops(n, sh);
  if (n.op == "Gemm") return gemm_flops(n, sh);
  if (n.op == "MatMul" || n.op == "MatMulInteger") return matmul_flops(n, sh);
  if (n.op == "Einsum") return einsum_flops(n, sh);
  if (n.op == "FusedConv" || n.op == "FusedMatMul") return fused_flops(n, sh);
  if (n.op == "MaxPool" || n.op == "AveragePool" || n.op == "LpPool") return pool_flops(n, sh);
  if (kElementwise.count(n.op)) return sh.numel(n.output(0));
  auto per = kPerElement.find(n.op);
  if (per != kPerElement.end()) {
    auto in = sh.numel(n.input(0));
    auto out = sh.numel(n.output(0));
    if (!in && !out) return std::nullopt;
    return per->second * std::max(in.value_or(0), out.value_or(0));
  }
  return std::nullopt;
}

GraphStats graph_stats(const Graph& graph) {
  GraphStats s;
  std::set<std::pair<const void*, size_t>> counted;  // one buffer shared by constants counts once
  for (const auto& n : graph.nodes()) {
    ++s.op_histogram[n->op];
    for (const Value* v : n->inputs) {
      if (!v || !v->constant) continue;
      DataType t = v->constant->dtype();
      bool weight = is_floating(t) || t == DataType::kInt8 || t == DataType::kUInt8;
      if (weight && counted.insert({v->constant->raw(), v->constant->nbytes()}).second)
        s.parameters += v->constant->numel();
    }
    if (auto f = node_flops(*n, &s.symbols_as_one)) {
      s.flops += *f;
    } else {
      s.uncounted.push_back(n.get());
    }
  }
  return s;
}

}  // namespace kiln::ir
