// Where each tensor of an engine lives during a run of a context that binds the graph inputs and
// outputs to the caller's buffers (CUDA's enqueue): in the context's one activation arena, in a
// bound buffer or in a constant; and which layers launch nothing. Made from the engine's memory
// plan, so that the plan the builder made (and `kiln inspect` reports) is what runs, or, for an
// engine without one, by packing its activations by lifetime. Host-only logic, decided once when a
// context is created.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "builder/memory_plan.hpp"
#include "ir/graph.hpp"

namespace kiln {

struct TensorLocation {
  enum class Kind {
    kArena,     // `offset` bytes into the arena
    kBound,     // the buffer the caller binds for graph input or output `source`
    kConstant,  // the engine's copy of constant `source`
  };
  Kind kind = Kind::kArena;
  uint64_t offset = 0;
  const ir::Value* source = nullptr;
};

struct ActivationLayout {
  uint64_t arena_bytes = 0;
  // Every tensor a layer reads or writes. A view shares its source's location, a tensor written
  // in place its input's, a Concat input lies in its slice of the Concat's output.
  std::unordered_map<const ir::Value*, TensorLocation> location;
  // Layers that launch nothing: views, and Concats whose inputs were written into their slices.
  // A layer producing a graph output always launches: it writes into the caller's buffer, so a
  // view or an assembled Concat that is a graph output (a plan with GraphOutputMemory::kArena)
  // copies its input(s) there.
  std::unordered_set<const ir::Node*> skipped;
};

// The layout `plan` gives `graph`'s tensors, graph outputs taken from the caller whatever the
// plan's GraphOutputMemory (with kArena their arena bytes are left unused). Throws
// Error(kInvalidPlan) naming the graph when the plan does not fit it: unsafe for it
// (memory_plan_problem), or made for input shapes other than the graph's static ones.
ActivationLayout follow_memory_plan(const ir::Graph& graph, const MemoryPlan& plan);

// The layout of an engine without a memory plan: every activation that is no graph input or
// output gets its own bytes of the arena, packed by lifetime (builder/arena_layout.hpp), except
// the outputs of view layers (Reshape, Flatten, Squeeze, Unsqueeze, Identity) of an arena tensor,
// which share their input's bytes and launch nothing. `bytes_of` gives a tensor's size.
ActivationLayout pack_activations(const ir::Graph& graph,
                                  const std::function<uint64_t(const ir::Value&)>& bytes_of);

}  // namespace kiln
