// The activation memory planner: from a graph and the concrete shape of every tensor, decides
// which activations are views, which overwrite a dying input, and where in one arena the rest
// live (arena_layout.hpp), so that tensors alive at the same time never share bytes.
#pragma once

#include <unordered_map>

#include "builder/memory_plan.hpp"

namespace kiln::builder {

// Concrete shapes of a graph's tensors for one set of input shapes (static_shapes.hpp).
struct StaticShapes {
  std::map<std::string, Shape> inputs;
  std::unordered_map<const ir::Value*, Shape> values;
};

// Plans every layer output of `graph` (with kCaller, every one but the graph outputs, which stay
// in the caller's buffers); `shapes` must hold a shape for each. Throws Error(kInternal) if the
// plan it made fails memory_plan_problem (a planner bug).
MemoryPlan plan_memory(const ir::Graph& graph, const StaticShapes& shapes,
                       GraphOutputMemory graph_output_memory = GraphOutputMemory::kArena);

}  // namespace kiln::builder
