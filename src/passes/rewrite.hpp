// Small graph edits that several passes share.
#pragma once

#include "ir/graph.hpp"

namespace kiln::passes {

// Makes every user of `node`'s output `out_index` read `replacement` instead; the node is left for
// dead-code removal. A graph output keeps its name: the replacement value takes it over when that
// is possible (it is neither a graph input nor already a graph output). Returns false, leaving the
// graph as it was, when it is not.
bool replace_node_output(ir::Graph& graph, ir::Node* node, size_t out_index,
                         ir::Value* replacement);

// After a rewrite that appended nodes and left some unused: restores topological order, drops
// what nothing reads and infers every shape again.
void tidy_after_rewrite(ir::Graph& graph);

}  // namespace kiln::passes
