// Registration functions of the extra family's op groups; register_extra_ops (extra.cpp) calls
// them all, and the shared type checks their inference functions use.
#pragma once

#include "ir/op_registry.hpp"

namespace kiln::ir {

void register_attention_ops(OpRegistry& r);        // Attention, RotaryEmbedding
void register_norm_activation_ops(OpRegistry& r);  // RMSNorm, LRN, MVN, Swish, SwiGLU, Shrink
void register_image_ops(OpRegistry& r);  // RoiAlign, GridSample, AffineGrid, Col2Im, MaxUnpool, ...
void register_selection_ops(OpRegistry& r);  // CumProd, Unique, Compress, ReverseSequence

// Fails unless input i is float32, float64, float16 or bfloat16 (the ops' "float" type set).
void require_float_input(const InferenceContext& ctx, size_t i);

}  // namespace kiln::ir
