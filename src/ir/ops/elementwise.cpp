// Inference for the elementwise op family.
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {

void register_elementwise_ops(OpRegistry& r) {}

}  // namespace kiln::ir
