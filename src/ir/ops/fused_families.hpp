// Registration of the layers graph passes create (they have no ONNX counterpart): Pointwise,
// registered with the elementwise family, and ScaledDotProductAttention, with the nn family.
#pragma once

namespace kiln::ir {

class OpRegistry;

void register_pointwise_ops(OpRegistry& r);                     // Pointwise
void register_scaled_dot_product_attention_ops(OpRegistry& r);  // ScaledDotProductAttention

}  // namespace kiln::ir
