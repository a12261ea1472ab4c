// What an Engine holds: the optimized graph (with its weights), the target it was built for and
// its activation memory plan.
#pragma once

#include <memory>
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
  std::optional<MemoryPlan> memory;  // absent when activation shapes are not static
};

TensorDesc describe_value(const ir::Value& v);
std::shared_ptr<const Engine::Impl> make_engine_impl(std::unique_ptr<ir::Graph> graph,
                                                     Backend backend,
                                                     std::optional<MemoryPlan> memory);

}  // namespace kiln
