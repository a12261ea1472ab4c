// Small graph edits that several passes share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "passes/use_index.hpp"

namespace kiln::passes {

// Makes every user of `node`'s output `out_index` read `replacement` instead; the node is left for
// dead-code removal. A graph output keeps its name: the replacement value takes it over when that
// is possible (it is neither a graph input nor already a graph output). Returns false, leaving the
// graph as it was, when it is not.
bool replace_node_output(ir::Graph& graph, ir::Node* node, size_t out_index,
                         ir::Value* replacement);
// The same through a pass's use index (which stays current).
bool replace_node_output(UseIndex& uses, ir::Node* node, size_t out_index, ir::Value* replacement);

// After a rewrite that appended nodes and left some unused: restores topological order, drops
// what nothing reads and infers every shape again.
void tidy_after_rewrite(ir::Graph& graph);

// A new 1-D int64 constant (a shape, perm or pads operand) named after `base`.
ir::Value* add_int64_constant(ir::Graph& graph, const std::string& base,
                              const std::vector<int64_t>& values);

// Gives `to` (a layer a rewrite added) the precision the builder chose for `from`, if any.
void copy_layer_precision(const ir::Node& from, ir::Node& to);

}  // namespace kiln::passes
