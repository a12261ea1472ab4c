// The epilogue of a fused layer (FusedConv, FusedMatMul) on the CPU: as oneDNN post-ops for the
// float32 primitives, and as a reference loop for other dtypes and what oneDNN cannot express.
#pragma once

#include <dnnl.hpp>

#include "backends/cpu/kernel.hpp"
#include "ir/activation.hpp"
#include "ir/activation_math.hpp"

namespace kiln::cpu {

struct Epilogue {
  ir::Activation act;
  bool has_residual = false;
  bool residual_before_activation = true;

  // From a fused node's attributes; the residual is input `residual_input` when present.
  static Epilogue from_node(const ir::Node& node, size_t residual_input);
  bool empty() const { return act.kind == ir::ActivationKind::kNone && !has_residual; }
};

// The part of an epilogue oneDNN's post-ops run and the part kiln runs after the primitive.
// oneDNN's Relu (slope 0), Clip and HardSigmoid clamp with max/min instructions that turn a NaN
// into the bound, where ONNX Runtime keeps it; those activations run after the primitive instead,
// with the residual where it must follow them.
struct EpilogueSplit {
  Epilogue onednn;
  Epilogue after;
};
EpilogueSplit split_for_onednn(const Epilogue& e);

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
  return ir::activation_value(a.kind, C(a.alpha), C(a.beta), x);
}

// y = act(y + z) or act(y) + z in place, elementwise over y (any float dtype); z has y's shape and
// may be null.
void apply_epilogue(const KernelContext& ctx, const Epilogue& e, Tensor& y, const Tensor* z);

}  // namespace kiln::cpu
