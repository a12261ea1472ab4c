// Text form of a graph, one node per line, for --verbose output, debugging and golden tests:
//   %y: float32[batch,16] = Relu(%x)  # from relu_1
#pragma once

#include <string>

#include "ir/graph.hpp"

namespace kiln::ir {

std::string print_graph(const Graph& graph);

}  // namespace kiln::ir
