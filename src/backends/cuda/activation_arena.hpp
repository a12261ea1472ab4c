// Where each activation of a CUDA engine lives in its context's one device arena: layer outputs
// are packed by lifetime (build/arena_layout.hpp), and the outputs of view layers (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity) share their input's bytes, so those layers launch
// nothing. Host-only planning, decided once when a context is created.
#pragma once

#include <cstddef>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "ir/graph.hpp"

namespace kiln::cuda {

struct ActivationArena {
  std::unordered_map<const ir::Value*, size_t> offset;  // every activation, views included
  std::unordered_set<const ir::Node*> views;            // layers whose output is a view: no launch
  size_t bytes = 0;                                     // the arena's size
  size_t unshared_bytes = 0;                            // every activation on its own
};

// Plans the activations of `graph`: every non-constant layer output that is not a graph output
// (graph inputs and outputs are bound by the caller). `bytes_of` gives a value's size.
ActivationArena plan_activation_arena(const ir::Graph& graph,
                                      const std::function<size_t(const ir::Value&)>& bytes_of);

}  // namespace kiln::cuda
