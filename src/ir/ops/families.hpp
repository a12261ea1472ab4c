// One registration function per op family; each lives in src/ir/ops/<family>.cpp.
#pragma once

namespace kiln::ir {

class OpRegistry;

void register_elementwise_ops(OpRegistry& r);   // unary/binary math, activations, Where, Cast
void register_nn_ops(OpRegistry& r);            // Conv, Gemm, MatMul, pooling, normalization
void register_reduction_ops(OpRegistry& r);     // Reduce*, ArgMax/Min, TopK, CumSum, NMS
void register_shape_ops(OpRegistry& r);         // Reshape, Transpose, Concat, Gather, Slice, ...
void register_quantization_ops(OpRegistry& r);  // QuantizeLinear, DequantizeLinear
void register_extra_ops(OpRegistry& r);         // Attention, RoiAlign, GridSample, Unique, ...
void register_control_flow_ops(OpRegistry& r);  // If, Loop, Scan (ops with subgraphs)

}  // namespace kiln::ir
