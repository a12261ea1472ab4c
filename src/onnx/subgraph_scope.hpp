// Scoping of ONNX subgraphs (If branches, Loop and Scan bodies): which names a subgraph reads
// from the scopes around it. The importer turns those into explicit inputs, so kiln's subgraphs
// are closed functions.
#pragma once

#include <string>
#include <vector>

#include "onnx.pb.h"

namespace kiln::onnx {

// Names the subgraph reads without defining them: used by its nodes (or by subgraphs nested in
// them) or returned as its outputs, but neither its inputs, its initializers nor a node's output.
// In order of first use, each once.
std::vector<std::string> free_names(const ::onnx::GraphProto& graph);

}  // namespace kiln::onnx
