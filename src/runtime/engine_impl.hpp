// What an Engine holds: the optimized graph (with its weights), the target it was built for and
// its activation memory plan.
#pragma once

#include <limits>
#include <memory>
#include <mutex>
#include <optional>

#include "build/memory_plan.hpp"
#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

struct Network::Impl {
  std::unique_ptr<ir::Graph> graph;
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
};

TensorDesc describe_value(const ir::Value& v);
std::shared_ptr<const Engine::Impl> make_engine_impl(
    std::unique_ptr<ir::Graph> graph, Backend backend, const BuilderConfig* config = nullptr,
    std::optional<MemoryPlan> memory = std::nullopt);

}  // namespace kiln
