// The plan file: everything the runtime needs to run an engine, in one versioned, checksummed
// file whose weights are aligned so the file can be memory-mapped. The byte layout is described
// in plan_header.hpp (header) and plan_schema.fbs (metadata); the weights section follows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/memory_plan.hpp"
#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::plan {

struct LoadedPlan {
  std::unique_ptr<ir::Graph> graph;  // constants borrow from the mapped file (or loaded bytes)
  Backend backend = Backend::kCpu;
  std::optional<MemoryPlan> memory;
  // Split engines (build/host_tail.hpp): the layers run on the host after `graph`; null otherwise.
  std::unique_ptr<ir::Graph> host_tail;
  std::string host_tail_reason;
  std::vector<std::string> engine_inputs, engine_outputs;
};

// What a split engine's plan adds to its GPU graph.
struct HostTailSection {
  const ir::Graph* graph = nullptr;
  std::string reason;
  std::vector<std::string> engine_inputs, engine_outputs;
};

// Serializes `graph` for `backend`, with its activation memory plan if `memory` is given and the
// host part of a split engine if `tail` is. Throws Error(kInternal) if the graph or the memory
// plan refers to values the graph does not own.
std::vector<uint8_t> write_plan(const ir::Graph& graph, Backend backend,
                                const MemoryPlan* memory = nullptr,
                                const HostTailSection* tail = nullptr);

// Both throw Error(kInvalidPlan) naming the file and what is wrong with it: truncated, corrupt,
// not a plan, another format or kiln version, or (if `expected` is given) another target; a memory
// plan that is unsafe for the graph (memory_plan_problem) is refused the same way.
// read_plan_file maps the file; constant tensors point into the mapping, which they keep alive.
LoadedPlan read_plan_file(const std::string& path, std::optional<Backend> expected = std::nullopt);
// Copies `bytes` once into an aligned buffer that the constants then borrow from.
LoadedPlan read_plan_bytes(std::string_view bytes, const std::string& source,
                           std::optional<Backend> expected = std::nullopt);
// Checks that a loaded graph can be run: every op known with a valid arity, unique names, every
// tensor defined before use (ir::verify_graph). Throws Error(kInvalidPlan) naming `source`. Plan
// reading itself does not need the op registry; engines call this after reading.
void verify_plan_graph(const ir::Graph& graph, const std::string& source);

// True if `bytes` begin with the plan magic (used to tell plans from ONNX models).
bool looks_like_plan(std::string_view bytes);

}  // namespace kiln::plan
