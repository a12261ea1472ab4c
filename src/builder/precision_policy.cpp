// The builder's per-op precision rules, read from the op table (OpTraits::precision). Like
// TensorRT's, they reduce matrix work, let cheap layers follow their neighbours, and keep FP32
// where 16-bit storage loses range (exponentials, long sums) or accuracy (normalisation
// statistics).
#include "builder/precision_policy.hpp"

#include "ir/op_traits.hpp"

namespace kiln::builder {

LayerPolicy classify_layer(const ir::Node& n) {
  const ir::PrecisionTraits& p = ir::op_traits(n).precision;
  switch (p.cls) {
    case ir::PrecisionClass::kMatrix:
      return {LayerClass::kMatrix, ""};
    case ir::PrecisionClass::kKeepFp32:
      return {LayerClass::kSensitive, p.reason};
    case ir::PrecisionClass::kKeepsTypes:
      return {LayerClass::kUnreducible, p.reason};
    case ir::PrecisionClass::kFollowsNeighbours:
      break;
  }
  if (p.fp32_reason) {
    std::string why = p.fp32_reason(n);
    if (!why.empty()) return {LayerClass::kSensitive, why};
  }
  return {LayerClass::kFlexible, ""};
}

bool is_fixed_type_input(const ir::Node& n, size_t slot) {
  return slot < 32 && (ir::op_traits(n).precision.fixed_type_inputs >> slot & 1u) != 0;
}

bool accepts_any_type(const ir::Node& n, size_t slot) {
  return slot < 32 && (ir::op_traits(n).precision.any_type_inputs >> slot & 1u) != 0;
}

}  // namespace kiln::builder
