// Inference checks shared by the fused layers (FusedConv, FusedMatMul): their activation
// attributes and their residual input.
#pragma once

#include "ir/op_registry.hpp"

namespace kiln::ir {

// Checks the "activation" attributes and that the residual input (when present) has the output's
// dtype and shape. Call after output 0 is set.
void check_fused_epilogue(InferenceContext& ctx, size_t residual_input);

}  // namespace kiln::ir
