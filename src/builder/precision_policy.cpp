// The builder's per-op precision rules. Like TensorRT's, they reduce matrix work, let cheap
// layers follow their neighbours, and keep FP32 where 16-bit storage loses range (exponentials,
// long sums) or accuracy (normalisation statistics). Softmax, LogSoftmax and LayerNormalization
// follow their neighbours too: every backend computes them in FP32 (or wider) inside the kernel
// and only reads and writes 16-bit values, so no Cast layers are needed around them.
#include "builder/precision_policy.hpp"

#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"

#include "ir/pointwise_program.hpp"

namespace kiln::builder {
namespace {

const std::set<std::string>& matrix_ops() {
  static const std::set<std::string> ops = {"Conv",   "ConvTranspose", "FusedConv",
                                            "MatMul", "Gemm",          "FusedMatMul",
                                            "Einsum", "Attention",     "ScaledDotProductAttention"};
  return ops;
}

// Op -> why it keeps FP32.
const std::map<std::string, std::string>& sensitive_ops() {
  static const std::map<std::string, std::string> ops = {
      {"RMSNormalization", "normalisation statistics need FP32"},
      {"GroupNormalization", "normalisation statistics need FP32"},
      {"InstanceNormalization", "normalisation statistics need FP32"},
      {"MeanVarianceNormalization", "normalisation statistics need FP32"},
      {"LpNormalization", "normalisation statistics need FP32"},
      {"LRN", "normalisation statistics need FP32"},
      {"Exp", "exponentials of large values overflow 16 bits"},
      {"Sinh", "exponentials of large values overflow 16 bits"},
      {"Cosh", "exponentials of large values overflow 16 bits"},
      {"Log", "logarithms of 16-bit values lose accuracy near 1 and 0"},
      {"Pow", "powers of large values overflow 16 bits"},
      {"ReduceProd", "products overflow 16 bits"},
      {"ReduceSumSquare", "sums of squares overflow 16 bits"},
      {"ReduceL2", "sums of squares overflow 16 bits"},
      {"ReduceLogSum", "log-sums need FP32"},
      {"ReduceLogSumExp", "exponentials of large values overflow 16 bits"},
      {"LpPool", "sums of powers overflow 16 bits"},
      {"GlobalLpPool", "sums of powers overflow 16 bits"},
      {"CumSum", "running sums overflow 16 bits"},
      {"CumProd", "running products overflow 16 bits"},
      {"Range", "shape arithmetic stays exact"},
      {"NonMaxSuppression", "box coordinates need FP32"},
      {"RoiAlign", "box coordinates need FP32"},
      {"GridSample", "sampling coordinates need FP32"},
      {"AffineGrid", "sampling coordinates need FP32"},
  };
  return ops;
}

// Op -> why its types cannot change.
const std::map<std::string, std::string>& unreducible_ops() {
  static const std::map<std::string, std::string> ops = {
      {"If", "subgraphs keep their types"},
      {"Loop", "subgraphs keep their types"},
      {"Scan", "subgraphs keep their types"},
      {"QuantizeLinear", "quantization scales are part of the model"},
      {"DequantizeLinear", "quantization scales are part of the model"},
      {"DynamicQuantizeLinear", "quantization scales are part of the model"},
      {"ConstantOfShape", "its output type is an attribute"},
      {"EyeLike", "its output type is an attribute"},
      {"RandomNormal", "its output type is an attribute"},
      {"RandomUniform", "its output type is an attribute"},
      {"RandomNormalLike", "random values keep the model's type"},
      {"RandomUniformLike", "random values keep the model's type"},
      {"Multinomial", "random values keep the model's type"},
      {"Bernoulli", "random values keep the model's type"},
      {"OneHot", "its depth and values are read as numbers"},
  };
  return ops;
}

constexpr float kHalfMax = 65504.0f;

// Number of elements each output of a reduction sums, or -1 when unknown.
int64_t reduced_extent(const ir::Node& n) {
  const ir::Value* x = n.input(0);
  if (!x || !x->shape) return -1;
  const ir::SymShape& shape = *x->shape;
  std::vector<int64_t> axes;
  const ir::Value* axes_value = n.input(1);
  if (axes_value && axes_value->constant) {
    const Tensor& t = *axes_value->constant;
    for (int64_t i = 0; i < t.numel(); ++i) {
      axes.push_back(t.dtype() == DataType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
    }
  } else if (axes_value) {
    return -1;  // axes known only at run time
  } else if (n.attrs.has("axes")) {
    axes = n.attrs.get_ints("axes");
  }
  if (axes.empty()) {
    if (n.attrs.get_int("noop_with_empty_axes", 0)) return 1;
    for (size_t d = 0; d < shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  int64_t count = 1;
  auto rank = static_cast<int64_t>(shape.size());
  for (int64_t a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || !shape[static_cast<size_t>(a)].known()) return -1;
    count *= shape[static_cast<size_t>(a)].value;
  }
  return count;
}

// A fused pointwise program rounds every instruction to the layer's type, so an exponential
// inside it overflows like a separate Exp layer would.
std::string pointwise_sensitivity(const ir::Node& n) {
  for (float c : n.attrs.get_floats("constants", {})) {
    if (std::isfinite(c) && std::fabs(c) > kHalfMax) {
      return cat("its constant ", c, " is beyond the FP16 range");
    }
  }
  std::vector<int64_t> code = n.attrs.get_ints("code", {});
  for (size_t i = 0; i < code.size(); i += 4) {
    auto op = static_cast<ir::PointwiseOpcode>(code[i]);
    if (op == ir::PointwiseOpcode::kExp || op == ir::PointwiseOpcode::kPow ||
        op == ir::PointwiseOpcode::kLog) {
      return cat("its program has ", ir::pointwise_opcode_name(op),
                 ", which overflows or loses accuracy in 16 bits");
    }
  }
  return "";
}

}  // namespace

LayerPolicy classify_layer(const ir::Node& n) {
  if (matrix_ops().count(n.op)) return {LayerClass::kMatrix, ""};
  if (auto it = sensitive_ops().find(n.op); it != sensitive_ops().end()) {
    return {LayerClass::kSensitive, it->second};
  }
  if (auto it = unreducible_ops().find(n.op); it != unreducible_ops().end()) {
    return {LayerClass::kUnreducible, it->second};
  }
  if (n.op == "ReduceSum" || n.op == "ReduceL1") {
    int64_t extent = reduced_extent(n);
    if (extent < 0 || extent > kLargeReduction) {
      return {LayerClass::kSensitive,
              extent < 0 ? cat("it sums an unknown number of elements, which may overflow 16 bits")
                         : cat("it sums ", extent, " elements, which may overflow 16 bits")};
    }
  }
  if (n.op == "Pointwise") {
    std::string why = pointwise_sensitivity(n);
    if (!why.empty()) return {LayerClass::kSensitive, why};
  }
  return {LayerClass::kFlexible, ""};
}

bool is_fixed_type_input(const ir::Node& n, size_t slot) {
  if (n.op == "Resize") return slot == 1 || slot == 2;  // roi and scales
  if (n.op == "Upsample") return slot == 1;             // scales
  return false;
}

bool accepts_any_type(const ir::Node& n, size_t slot) {
  if (n.op == "Shape" || n.op == "Size" || n.op == "Cast") return slot == 0;
  if (n.op == "CastLike") return slot == 0;
  return false;
}

}  // namespace kiln::builder
