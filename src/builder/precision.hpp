// The builder's precision stage: which precision each layer runs in under the BuilderConfig
// (FP16/BF16/TF32 flags, per-layer constraints, strict types), with the graph retyped to match.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::builder {

struct PrecisionSummary {
  std::map<std::string, int64_t> layers;  // precision name ("fp16", "tf32", "int64") -> layers
  int64_t reformat_layers = 0;            // Cast layers inserted between differing neighbours
  int64_t converted_weights = 0;          // constants stored in a reduced type
};

// Chooses each layer's precision and stores it on the node (ir::kLayerPrecisionAttr). Layers run
// in FP16/BF16 get values of that type, their constant weights (bias too) are converted at build
// time, and Cast (reformat) layers are inserted only where a value's type differs from what a
// consumer needs — one per value and type, graph inputs and outputs keeping their declared
// types. Throws Error(kInvalidArgument) for a constraint that cannot hold under strict types.
PrecisionSummary assign_precisions(ir::Graph& graph, const BuilderConfig& config);

}  // namespace kiln::builder
