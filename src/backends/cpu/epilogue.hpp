// The epilogue of a fused layer (FusedConv, FusedMatMul) on the CPU: as oneDNN post-ops for the
// float32 primitives, and as a reference loop for other dtypes and what oneDNN cannot express.
#pragma once

#include <cmath>
#include <numbers>

#include <dnnl.hpp>

#include "backends/cpu/kernel.hpp"
#include "ir/activation.hpp"

namespace kiln::cpu {

struct Epilogue {
  ir::Activation act;
  bool has_residual = false;
  bool residual_before_activation = true;

  // From a fused node's attributes; the residual is input `residual_input` when present.
  static Epilogue from_node(const ir::Node& node, size_t residual_input);
  bool empty() const { return act.kind == ir::ActivationKind::kNone && !has_residual; }
};

// Appends the activation and the residual add in the epilogue's order. The residual is a binary
// post-op reading `residual_md`, whose memory is passed as
// DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1 with the returned index (-1 without a
// residual); or, with no `residual_md` (a zero desc), a sum post-op, for which the caller places
// the residual in the destination before running the primitive.
int append_epilogue_post_ops(const Epilogue& e, dnnl::post_ops& ops,
                             const dnnl::memory::desc& residual_md);

// The activation on one value, computed like the standalone ops' CPU kernels.
template <typename C>
C apply_activation(const ir::Activation& a, C x) {
  using K = ir::ActivationKind;
  auto sigmoid = [](C v) {
    if (v >= C(0)) return C(1) / (C(1) + std::exp(-v));
    C e = std::exp(v);
    return e / (C(1) + e);
  };
  auto clamp01 = [](C v) { return v < C(0) ? C(0) : (v > C(1) ? C(1) : v); };
  switch (a.kind) {
    case K::kNone:
      return x;
    case K::kRelu:
      return x < C(0) ? C(0) : x;
    case K::kLeakyRelu:
      return x < C(0) ? C(a.alpha) * x : x;
    case K::kClip:
      x = x < C(a.alpha) ? C(a.alpha) : x;
      return C(a.beta) < x ? C(a.beta) : x;
    case K::kSigmoid:
      return sigmoid(x);
    case K::kSilu:
      return x * sigmoid(x);
    case K::kGelu:
      return C(0.5) * x * (C(1) + std::erf(x / std::numbers::sqrt2_v<C>));
    case K::kGeluTanh: {
      const C k = std::sqrt(C(2) / std::numbers::pi_v<C>);
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
    case K::kHardSwish:
      return x * clamp01(x / C(6) + C(0.5));
    case K::kHardSigmoid:
      return clamp01(C(a.alpha) * x + C(a.beta));
    case K::kTanh:
      return std::tanh(x);
    case K::kElu:
      return x < C(0) ? C(a.alpha) * std::expm1(x) : x;
  }
  return x;
}

// y = act(y + z) or act(y) + z in place, elementwise over y (any float dtype); z has y's shape and
// may be null.
void apply_epilogue(const KernelContext& ctx, const Epilogue& e, Tensor& y, const Tensor* z);

}  // namespace kiln::cpu
