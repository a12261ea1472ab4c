// Dead-code elimination.
#include "passes/passes.hpp"

namespace kiln::passes {

bool eliminate_dead_code(ir::Graph& graph) {
  size_t nodes = graph.nodes().size(), values = graph.values().size();
  graph.remove_unused();
  return graph.nodes().size() != nodes || graph.values().size() != values;
}

}  // namespace kiln::passes
