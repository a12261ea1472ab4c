// Activation names, attribute storage and recognition of standalone activation nodes.
#include "ir/activation.hpp"

#include <array>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/error.hpp"
#include "core/float_types.hpp"
#include "ir/activation_math.hpp"
#include "ir/graph.hpp"

namespace kiln::ir {
namespace {

constexpr std::array<std::pair<ActivationKind, std::string_view>, 11> kNames = {{
    {ActivationKind::kRelu, "Relu"},
    {ActivationKind::kLeakyRelu, "LeakyRelu"},
    {ActivationKind::kClip, "Clip"},
    {ActivationKind::kSigmoid, "Sigmoid"},
    {ActivationKind::kSilu, "Silu"},
    {ActivationKind::kGelu, "Gelu"},
    {ActivationKind::kGeluTanh, "GeluTanh"},
    {ActivationKind::kHardSwish, "HardSwish"},
    {ActivationKind::kHardSigmoid, "HardSigmoid"},
    {ActivationKind::kTanh, "Tanh"},
    {ActivationKind::kElu, "Elu"},
}};

// A one-element float constant's value; nullopt when the value is not a known float scalar.
std::optional<float> scalar_constant(const Value* v) {
  if (!v || !v->is_constant() || v->constant->numel() != 1) return std::nullopt;
  const Tensor& t = *v->constant;
  switch (t.dtype()) {
    case DataType::kFloat32:
      return *t.data<float>();
    case DataType::kFloat64:
      // Clip on doubles compares in double; a bound that does not survive the float round trip
      // would change results.
      if (static_cast<double>(static_cast<float>(*t.data<double>())) != *t.data<double>())
        return std::nullopt;
      return static_cast<float>(*t.data<double>());
    case DataType::kFloat16:
      return static_cast<float>(*t.data<Half>());
    case DataType::kBFloat16:
      return static_cast<float>(*t.data<BFloat16>());
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view activation_name(ActivationKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "";
}

std::optional<ActivationKind> parse_activation_kind(std::string_view name) {
  if (name.empty()) return ActivationKind::kNone;
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

Activation read_activation(const Attributes& attrs) {
  Activation act;
  std::string name = attrs.get_string("activation", "");
  auto kind = parse_activation_kind(name);
  if (!kind) {
    std::string known;
    for (const auto& [k, n] : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
    fail(ErrorCode::kInvalidModel, "unknown activation '", name, "' (known: ", known, ")");
  }
  act.kind = *kind;
  act.alpha = attrs.get_float("activation_alpha", 0.0f);
  act.beta = attrs.get_float("activation_beta", 0.0f);
  return act;
}

void write_activation(Attributes& attrs, const Activation& act) {
  attrs.erase("activation");
  attrs.erase("activation_alpha");
  attrs.erase("activation_beta");
  if (act.kind == ActivationKind::kNone) return;
  attrs.set("activation", std::string(activation_name(act.kind)));
  if (act.alpha != 0.0f) attrs.set("activation_alpha", act.alpha);
  if (act.beta != 0.0f) attrs.set("activation_beta", act.beta);
}

std::string to_string(const Activation& act) {
  std::string name(activation_name(act.kind));
  char buf[96];
  switch (act.kind) {
    case ActivationKind::kNone:
      return "none";
    case ActivationKind::kLeakyRelu:
    case ActivationKind::kElu:
      std::snprintf(buf, sizeof buf, "(alpha=%g)", static_cast<double>(act.alpha));
      return name + buf;
    case ActivationKind::kClip:
    case ActivationKind::kHardSigmoid:
      std::snprintf(buf, sizeof buf, "(%g, %g)", static_cast<double>(act.alpha),
                    static_cast<double>(act.beta));
      return name + buf;
    default:
      return name;
  }
}

std::optional<Activation> activation_of_node(const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || !n.input(0)) return std::nullopt;
  Activation a;
  if (n.op == "Relu") {
    a.kind = ActivationKind::kRelu;
  } else if (n.op == "LeakyRelu") {
    a = {ActivationKind::kLeakyRelu, n.attrs.get_float("alpha", kLeakyReluAlpha), 0.0f};
  } else if (n.op == "Clip") {
    // An omitted bound is float's largest finite value (ONNX's numeric_limits max): an infinity
    // clips to it.
    constexpr float kMax = std::numeric_limits<float>::max();
    a = {ActivationKind::kClip, -kMax, kMax};
    if (n.input(1)) {
      auto lo = scalar_constant(n.input(1));
      if (!lo) return std::nullopt;
      a.alpha = *lo;
    }
    if (n.input(2)) {
      auto hi = scalar_constant(n.input(2));
      if (!hi) return std::nullopt;
      a.beta = *hi;
    }
    // Clip with min > max gives max everywhere; keep that rare case out of the fused kernels.
    if (!(a.alpha <= a.beta)) return std::nullopt;
  } else if (n.op == "Sigmoid") {
    a.kind = ActivationKind::kSigmoid;
  } else if (n.op == "Gelu") {
    a.kind = n.attrs.get_string("approximate", "none") == "tanh" ? ActivationKind::kGeluTanh
                                                                 : ActivationKind::kGelu;
  } else if (n.op == "HardSwish") {
    a.kind = ActivationKind::kHardSwish;
  } else if (n.op == "HardSigmoid") {
    a = {ActivationKind::kHardSigmoid, n.attrs.get_float("alpha", kHardSigmoidAlpha),
         n.attrs.get_float("beta", kHardSigmoidBeta)};
  } else if (n.op == "Tanh") {
    a.kind = ActivationKind::kTanh;
  } else if (n.op == "Elu") {
    a = {ActivationKind::kElu, n.attrs.get_float("alpha", kEluAlpha), 0.0f};
  } else {
    return std::nullopt;
  }
  return a;
}

}  // namespace kiln::ir
