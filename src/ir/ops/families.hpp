// The op table's registration functions, each adding the ops of one family (ir/op_family.hpp) from
// src/ir/ops/<family>.cpp or a helper file named <family>_*.cpp. op_registry.cpp lists them with
// their families and calls them all; nothing else does.
#pragma once

namespace kiln::ir {

class OpRegistry;

void register_elementwise_ops(OpRegistry& r);            // math, activations, Where, Cast
void register_elementwise_pointwise_ops(OpRegistry& r);  // Pointwise
void register_conv_ops(OpRegistry& r);                   // Conv, ConvTranspose, FusedConv
void register_matmul_ops(OpRegistry& r);                 // MatMul, Gemm, Einsum, FusedMatMul
void register_pool_ops(OpRegistry& r);                   // MaxPool, AveragePool, LpPool, Global*
void register_normalization_ops(OpRegistry& r);          // BatchNorm, LayerNorm, RMSNorm, ...
void register_softmax_ops(OpRegistry& r);                // Softmax, LogSoftmax, Hardmax
void register_reduction_ops(OpRegistry& r);              // Reduce*, ArgMax, TopK, CumSum, ...
void register_attention_ops(OpRegistry& r);              // Attention, RotaryEmbedding
void register_attention_scaled_dot_product_ops(OpRegistry& r);  // ScaledDotProductAttention
void register_shape_ops(OpRegistry& r);                         // Reshape, Transpose, Concat, ...
void register_shape_slice_pad_ops(OpRegistry& r);               // Slice, Pad
void register_shape_rearrange_ops(OpRegistry& r);               // Rearrange (kiln's: rearrange.hpp)
void register_indexing_ops(OpRegistry& r);            // Gather*, Scatter*, NonZero, OneHot
void register_indexing_selection_ops(OpRegistry& r);  // Unique, Compress, ReverseSequence
void register_image_ops(OpRegistry& r);               // RoiAlign, GridSample, NMS, ...
void register_image_resize_ops(OpRegistry& r);        // Resize, Upsample
void register_generators_ops(OpRegistry& r);          // ConstantOfShape, Range, EyeLike, Trilu
void register_quantization_ops(OpRegistry& r);        // Quantize/DequantizeLinear
void register_control_flow_ops(OpRegistry& r);        // If, Loop, Scan

}  // namespace kiln::ir
