// The activation memory plan an engine carries: where in one arena each activation lives, which
// activations are views of another (no bytes of their own) and which overwrite a dying input.
// Plain data, made by the builder (memory_planner.hpp), stored in the plan file and followed by
// the CPU execution context.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

// One activation (a layer output).
struct TensorPlacement {
  std::string name;
  uint64_t offset = 0;  // in the arena; meaningless for an alias
  uint64_t bytes = 0;
  std::string alias_of;     // a view of this tensor (the layer's input 0): it needs no memory
  std::string in_place_of;  // written over this input of its layer, whose bytes die there
};

struct MemoryPlan {
  uint64_t arena_bytes = 0;        // the one allocation each execution context makes
  uint64_t total_bytes = 0;        // every activation allocated on its own, with no reuse
  uint64_t lower_bound_bytes = 0;  // most bytes alive at once: no arena can be smaller
  std::map<std::string, Shape> input_shapes;  // the input shapes the plan was made for
  std::vector<TensorPlacement> tensors;       // every layer output, in layer order
};

// Layers whose output is the same bytes as input 0 under a new shape, so it can be a view.
bool is_alias_op(const std::string& op);

// When each activation must stay intact: from the index of the layer producing it to the index
// of its last reader (the last layer for a graph output; its producer for an unread output).
struct ValueLifetime {
  int64_t first = 0;
  int64_t last = 0;
};
std::map<const ir::Value*, ValueLifetime> activation_lifetimes(const ir::Graph& graph);

// Why `plan` is unsafe for `graph`, or "" when it is safe: every layer output has one placement
// inside the arena, aliases and in-place writes sit where the graph allows them, and no two
// tensors alive at the same layer share bytes. Checks untrusted plans (plan files) too.
std::string memory_plan_problem(const ir::Graph& graph, const MemoryPlan& plan);

}  // namespace kiln
