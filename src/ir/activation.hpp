// The activation a fused layer applies after its linear part (FusedConv, FusedMatMul): one enum
// with its parameters, how it is stored in a node's attributes, and how to recognise it in a
// standalone activation node. Shared by the passes, the CPU kernels and the CUDA backend.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ir/attribute.hpp"

namespace kiln::ir {

struct Node;

enum class ActivationKind {
  kNone,
  kRelu,         // max(x, 0)
  kLeakyRelu,    // x < 0 ? alpha * x : x
  kClip,         // min(max(x, alpha), beta); Relu6 is Clip(0, 6)
  kSigmoid,      // 1 / (1 + exp(-x))
  kSilu,         // x * sigmoid(x)
  kGelu,         // 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,     // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
  kHardSwish,    // x * max(0, min(1, x / 6 + 0.5))
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kTanh,
  kElu,  // x < 0 ? alpha * (exp(x) - 1) : x
};

struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  // The parameters, where the kind has them (see above); otherwise 0.
  float alpha = 0.0f;
  float beta = 0.0f;

  bool operator==(const Activation&) const = default;
};

// The name stored in a fused node's "activation" attribute ("Relu", "Clip", ...); "" for kNone.
std::string_view activation_name(ActivationKind kind);
std::optional<ActivationKind> parse_activation_kind(std::string_view name);

// Reads attributes "activation", "activation_alpha", "activation_beta"; throws kInvalidModel
// naming the node for an unknown activation name.
Activation read_activation(const Attributes& attrs);
void write_activation(Attributes& attrs, const Activation& act);

// "Relu", "LeakyRelu(alpha=0.1)", "Clip(0, 6)".
std::string to_string(const Activation& act);

// The activation a standalone node computes, if it is one a fused layer can absorb: Relu,
// LeakyRelu, Clip with constant (or omitted) bounds, Sigmoid, Gelu, HardSwish, HardSigmoid, Tanh,
// Elu. SiLU (x * Sigmoid(x)) spans two nodes and is matched by the fusion pass.
std::optional<Activation> activation_of_node(const Node& node);

}  // namespace kiln::ir
