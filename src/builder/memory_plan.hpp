// The activation memory plan an engine carries: where in one arena each activation lives, which
// activations are views of another (no bytes of their own), which overwrite a dying input and
// which are written straight into their slice of a Concat's output (the Concat then
// copies nothing). Plain data, made by the builder (memory_planner.hpp), stored in the plan file
// and followed by every backend's execution context.
#pragma once

#include <cstdint>
#include <map>
#include <set>
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
  // Written by its own layer straight into its slice of this Concat output: `offset` is the
  // slice's place in the arena (the Concat's offset plus the bytes of the inputs before it).
  std::string concat_into;
};

// Where a backend's execution contexts keep the engine's graph outputs (Backend::
// graph_output_memory()). The values are stored in plan files.
enum class GraphOutputMemory : uint8_t {
  kArena = 0,  // in the arena like any activation (the CPU's execute() copies them out at the end)
  // In the buffers the caller binds for each run (CUDA's enqueue): outside the arena, so they
  // get no placement, are no view, in-place write or Concat assembled from its inputs (their bytes
  // are the caller's), and nothing is written over them. A view of one is a view of the caller's
  // buffer, as a view of a graph input is.
  kCaller = 1,
};

struct MemoryPlan {
  uint64_t arena_bytes = 0;        // the one allocation each execution context makes
  uint64_t total_bytes = 0;        // every tensor the arena holds, each allocated on its own
  uint64_t lower_bound_bytes = 0;  // most bytes alive at once: no arena can be smaller
  std::map<std::string, Shape> input_shapes;  // the input shapes the plan was made for
  // Every layer output, in layer order (with kCaller, graph outputs excepted).
  std::vector<TensorPlacement> tensors;
  GraphOutputMemory graph_outputs = GraphOutputMemory::kArena;
};

// Whether concatenating along `axis` of `out` puts each input in one contiguous byte range of the
// output, one after the other: so when every dim before the axis is 1 (batch-1 NCHW channels).
bool concat_inputs_are_contiguous(const Shape& out, int64_t axis);

// The Concat outputs of `plan` that its inputs assemble in place (named by some concat_into):
// those Concat layers launch no work.
std::set<std::string> assembled_concats(const MemoryPlan& plan);

// When each activation must stay intact: from the index of the layer producing it to the index
// of its last reader (the last layer for a graph output; its producer for an unread output).
struct ValueLifetime {
  int64_t first = 0;
  int64_t last = 0;
};
std::map<const ir::Value*, ValueLifetime> activation_lifetimes(const ir::Graph& graph);

// Why `plan` is unsafe for `graph`, or "" when it is safe: every layer output has one placement
// inside the arena (with kCaller, every one but the graph outputs, which have none), aliases,
// in-place writes and concat slices sit where the graph allows them (a concat's inputs all in their
// slices, in order, or none), and no two tensors alive at the same layer share bytes (a concat's
// inputs and output count as one buffer, alive from its first input's layer to the last read of any
// of them), and nothing is written over a graph output. Checks untrusted plans (plan files) too.
std::string memory_plan_problem(const ir::Graph& graph, const MemoryPlan& plan);

}  // namespace kiln
