// What an Engine holds: the optimized graph (with its weights), the target it was built for and
// its activation memory plan.
#pragma once

#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "builder/memory_plan.hpp"
#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

struct Network::Impl {
  std::unique_ptr<ir::Graph> graph;
  // The graph's outputs as a set, for mark_output's check that a tensor is not one already
  // (filled from the graph on first use: a parsed network comes with outputs).
  std::unordered_set<const ir::Value*> output_set;
};

struct Engine::Impl {
  std::shared_ptr<const ir::Graph> graph;
  Backend backend = Backend::kCpu;
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  // Backend state every context of this engine shares (weights in device memory), made once, on
  // the first context's creation.
  mutable std::mutex shared_state_mutex;
  mutable std::shared_ptr<const void> shared_state;
  // GPU builds: tactic auto-tuning with its timing cache. A loaded plan keeps the default (first
  // heuristic candidate). Whether a layer may use TF32 is its own attribute (ir/layer_precision).
  bool tune_tactics = false;
  std::string timing_cache_path;
  size_t workspace_limit = std::numeric_limits<size_t>::max();
  std::optional<MemoryPlan> memory;  // absent when activation shapes are not static
  // Split engines (build/host_tail.hpp): the layers from the first one with a data-dependent
  // shape on, as a CPU engine run on the host after `graph` (the GPU part). `inputs` and
  // `outputs` are then the whole engine's, not `graph`'s.
  std::shared_ptr<const Impl> host_tail;
  std::string host_tail_reason;  // the first data-dependent tensor or layer
};

TensorDesc describe_value(const ir::Value& v);
std::shared_ptr<Engine::Impl> make_engine_impl(std::unique_ptr<ir::Graph> graph, Backend backend,
                                               const BuilderConfig* config = nullptr,
                                               std::optional<MemoryPlan> memory = std::nullopt);
// Makes `impl` (a GPU engine) a split engine: `tail` (a CPU engine) runs on the host after it, and
// the engine's inputs and outputs are the named ones, each an input or output of one part. Throws
// Error(`error`) when a name belongs to neither part or a tail input has no source.
void attach_host_tail(Engine::Impl& impl, std::shared_ptr<const Engine::Impl> tail,
                      std::string reason, const std::vector<std::string>& engine_inputs,
                      const std::vector<std::string>& engine_outputs, ErrorCode error);

}  // namespace kiln
