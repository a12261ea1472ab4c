// Which layers benefit from reduced precision and which keep FP32, and the input slots whose type
// an op fixes or ignores: the builder's view of the op table's precision traits.
#pragma once

#include <cstddef>
#include <string>

#include "ir/graph.hpp"

namespace kiln::builder {

enum class LayerClass {
  kMatrix,    // matrix work (Conv, MatMul, Gemm, attention): reduced whenever allowed; TF32 in FP32
  kFlexible,  // cheap float work: reduced when that costs no more reformat layers than FP32
  kSensitive,    // range or accuracy suffers in 16 bits (Exp, most norms): FP32 unless pinned
  kUnreducible,  // its types are fixed (subgraphs, quantization, a type attribute): never reduced
};

struct LayerPolicy {
  LayerClass cls = LayerClass::kFlexible;
  std::string reason;  // why a sensitive or unreducible layer keeps FP32, for the build log
};

LayerPolicy classify_layer(const ir::Node& n);

// Input slots whose float type the op fixes whatever its data type (Resize's scales).
bool is_fixed_type_input(const ir::Node& n, size_t slot);

// Input slots the op reads only for their shape or converts itself (Shape, Size, Cast): any type
// will do, so they never need a reformat layer.
bool accepts_any_type(const ir::Node& n, size_t slot);

}  // namespace kiln::builder
