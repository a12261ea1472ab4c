// What the subcommands accept as a model: an ONNX file or a kiln plan, told apart by the plan's
// magic bytes rather than the file name.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "builder/memory_plan.hpp"
#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::tools {

enum class ModelFormat { kOnnx, kPlan };

// Throws Error(kIo) naming the path if it does not exist or is not a readable file.
ModelFormat detect_model_format(const std::string& path);

// A plan is loaded as is; an ONNX model is imported and built in memory with `config`.
std::unique_ptr<Engine> load_engine(const std::string& path, const BuilderConfig& config);

// The graph a model describes, for inspection: the plan's optimized graph, or the graph the
// importer makes of an ONNX model (not yet built).
struct ModelGraph {
  ModelFormat format = ModelFormat::kOnnx;
  std::unique_ptr<ir::Graph> graph;
  Backend backend = Backend::kCpu;   // plans only
  std::optional<MemoryPlan> memory;  // plans with static activation shapes only
  // Split GPU plans: the layers run on the host after `graph`, and why (build/host_tail.hpp).
  std::unique_ptr<ir::Graph> host_tail;
  std::string host_tail_reason;
  uint64_t file_bytes = 0;
};
ModelGraph load_model_graph(const std::string& path);

}  // namespace kiln::tools
