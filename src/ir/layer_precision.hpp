// The precision the builder chose for each layer, stored as a node attribute so the plan keeps it
// and backends (TF32 or not for FP32 matrix work) and `kiln inspect` can read it.
#pragma once

#include <string>

#include "ir/graph.hpp"

namespace kiln::ir {

// Not "precision": ONNX QuantizeLinear has an attribute of that name.
inline constexpr const char* kLayerPrecisionAttr = "layer_precision";

// "fp32", "tf32", "fp16", "bf16" (or "fp64", "fp8e4m3") for layers doing float work; for layers
// that do none, the element type they work on ("int64", "bool"). "" for a graph the builder has
// not seen (an ONNX model as imported).
std::string layer_precision(const Node& n);

// Whether an FP32 layer may run its matrix work in TF32: only where the builder said so.
bool allows_tf32(const Node& n);

}  // namespace kiln::ir
