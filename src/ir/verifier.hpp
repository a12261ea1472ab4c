// Structural checks on a graph: every edge defined before use, single producers, known ops with
// valid arity, graph outputs produced. Passes run it after rewriting, tests run it everywhere.
#pragma once

#include "ir/graph.hpp"

namespace kiln::ir {

// Throws Error(kInternal by default; kInvalidModel for graphs from outside) naming the first node
// or tensor that breaks a rule.
void verify_graph(const Graph& graph, ErrorCode code = ErrorCode::kInternal);

}  // namespace kiln::ir
