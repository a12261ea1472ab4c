// Network parsing and engine building: import, optimize, check every layer can run on the
// target, plan activation memory, and package the result as an engine.
#include <algorithm>
#include <map>

#include "backends/backend.hpp"
#include "builder/host_tail.hpp"
#include "builder/memory_planner.hpp"
#include "builder/pipeline.hpp"
#include "builder/precision.hpp"
#include "builder/static_shapes.hpp"
#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/layer_tactic.hpp"
#include "onnx/importer.hpp"
#include "passes/pass_manager.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {

Network parse_onnx_file(const std::string& path) {
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = onnx::import_model_file(path);
  return Network(std::move(impl));
}

Network parse_onnx_bytes(std::string_view bytes, const std::string& name) {
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = onnx::import_model_bytes(bytes, ".", name);
  return Network(std::move(impl));
}

namespace {

std::string mib(uint64_t bytes) {
  return cat(static_cast<double>(bytes) / (1 << 20), " MiB");
}

// Plans the activation memory for the profile's input shapes, with the graph outputs where the
// backend keeps them. A graph whose shapes depend on data gets no plan (its contexts allocate
// activations one by one); a bad profile is an error.
std::optional<MemoryPlan> plan_activation_memory(const ir::Graph& g, const BuilderConfig& config,
                                                 const backends::Backend& backend) {
  std::map<std::string, Shape> inputs = builder::bind_input_shapes(g, config.input_shapes);
  std::string why_not;
  std::optional<builder::StaticShapes> shapes;
  try {
    shapes = builder::evaluate_static_shapes(g, inputs, why_not);
  } catch (const Error& e) {
    why_not = e.what();
  }
  if (!shapes) {
    log(Severity::kInfo, cat("no activation memory plan: ", why_not));
    return std::nullopt;
  }
  MemoryPlan plan = builder::plan_memory(g, *shapes, backend.graph_output_memory());
  log(Severity::kInfo,
      cat("activation memory plan: arena ", mib(plan.arena_bytes), ", lower bound ",
          mib(plan.lower_bound_bytes), ", all activations ", mib(plan.total_bytes)));
  return plan;
}

void log_precision(const builder::PrecisionSummary& s, const BuilderConfig& config,
                   const backends::Backend& backend) {
  bool reduced = config.fp16 || config.bf16 || !config.layer_precisions.empty();
  if (reduced && !backend.precision_note().empty()) {
    log(Severity::kInfo, std::string(backend.precision_note()));
  }
  std::string counts;
  for (const auto& [name, n] : s.layers) counts += cat(counts.empty() ? "" : ", ", n, " ", name);
  log(reduced ? Severity::kInfo : Severity::kVerbose,
      cat("precision: ", counts.empty() ? "no layers" : counts, "; ", s.reformat_layers,
          " reformat layer(s) inserted; ", s.converted_weights, " weight tensor(s) converted"));
}

// Pins the tactics config.tactics names on the layers each key matches: by layer name, by the
// name of an ONNX node the layer came from, or by op. A key that matches nothing is an error.
void pin_tactics(ir::Graph& graph, const BuilderConfig& config) {
  for (const auto& [key, tactic] : config.tactics) {
    size_t pinned = 0;
    for (const auto& n : graph.nodes()) {
      const bool matches = n->name == key || n->op == key ||
                           std::find(n->origins.begin(), n->origins.end(), key) != n->origins.end();
      if (!matches) continue;
      ir::pin_tactic(*n, tactic);
      ++pinned;
    }
    if (pinned == 0) {
      fail(ErrorCode::kInvalidArgument, "tactic '", key, "=", tactic, "': no layer of the built ",
           "engine is named '", key, "', came from an ONNX node of that name or runs that op ",
           "(`kiln inspect` on the plan lists the layers)");
    }
    log(Severity::kInfo, cat("tactic '", tactic, "' pinned on ", pinned, " layer(s) (", key, ")"));
  }
}

// Everything after the graph optimizations, for one target: the backend's rewrites, layout,
// precision, the support check, the memory plan and the backend's tuning.
std::shared_ptr<Engine::Impl> build_optimized(std::unique_ptr<ir::Graph> g,
                                              const BuilderConfig& config,
                                              std::vector<passes::PassRecord> records) {
  const backends::Backend& backend = backends::get_backend(config.backend);
  builder::PrecisionSummary precision;
  std::vector<builder::PipelineStage> stages = builder::build_pipeline(config, backend, &precision);
  // The graph optimizations ran before the split (build_engine); the rest runs per part.
  stages.erase(stages.begin());
  std::vector<passes::PassRecord> more = builder::run_pipeline(*g, stages);
  records.insert(records.end(), more.begin(), more.end());
  log(Severity::kInfo, passes::format_pass_records(records));
  if (!config.disabled_passes.empty()) {
    std::string names;
    for (const std::string& n : config.disabled_passes) names += (names.empty() ? "" : ", ") + n;
    log(Severity::kInfo, cat("passes disabled by the build configuration: ", names));
  }
  log_precision(precision, config, backend);
  backend.check_support(*g);
  pin_tactics(*g, config);
  backend.generate_code(*g);
  std::optional<MemoryPlan> memory = plan_activation_memory(*g, config, backend);
  ir::Graph& graph = *g;  // the engine's graph; nobody else holds the engine yet
  auto impl = make_engine_impl(std::move(g), config.backend, &config, std::move(memory));
  // Below level 3 nothing is timed: each layer takes its first applicable tactic when it loads.
  if (impl->tune_tactics && !graph.nodes().empty()) backend.tune(graph, impl, config);
  return impl;
}

// A GPU build of a graph whose later layers have data-dependent shapes: the static part builds as
// a GPU engine, the rest as a CPU engine run on the host after it (build/host_tail.hpp).
std::shared_ptr<Engine::Impl> build_split_engine(const ir::Graph& g, builder::HostTailSplit split,
                                                 const BuilderConfig& config,
                                                 const std::vector<passes::PassRecord>& records) {
  const bool all_on_host = split.head->nodes().empty();
  log(Severity::kWarning,
      cat(all_on_host ? "all " : "", split.tail->nodes().size(), " of ", g.nodes().size(),
          " layers run on the host (the CPU backend)",
          all_on_host ? ": the first already has a shape that depends"
                      : " after the GPU ones: their shapes depend",
          " on the data (", split.why,
          "). execute() runs the engine; enqueue() cannot (its outputs have no size before it "
          "runs)"));
  std::vector<std::string> inputs, outputs;
  for (const ir::Value* v : g.inputs()) inputs.push_back(v->name);
  for (const ir::Value* v : g.outputs()) outputs.push_back(v->name);
  std::shared_ptr<Engine::Impl> impl = build_optimized(std::move(split.head), config, records);
  // The host part runs on the CPU backend in FP32 (post-processing: box decoding, scores, NMS)
  // at the same level.
  BuilderConfig host_config;
  host_config.backend = Backend::kCpu;
  host_config.optimization_level = config.optimization_level;
  attach_host_tail(*impl, build_optimized(std::move(split.tail), host_config, {}), split.why,
                   inputs, outputs, ErrorCode::kInternal);
  return impl;
}

}  // namespace

Builder::Builder(Logger* logger, LogSeverity max_severity) {
  if (logger) set_logger(logger, max_severity);
}

std::unique_ptr<Engine> build_engine(const Network& network, const BuilderConfig& config) {
  if (network.impl().graph->outputs().empty()) {
    fail(ErrorCode::kInvalidArgument, "network '", network.impl().graph->name,
         "' has no outputs: mark at least one");
  }
  const backends::Backend& backend = backends::get_backend(config.backend);
  std::unique_ptr<ir::Graph> g = network.impl().graph->clone();
  // The first stage, the graph optimizations, runs on the whole graph: a split engine's parts
  // are cut from its result.
  std::vector<builder::PipelineStage> stages = builder::build_pipeline(config, backend, nullptr);
  std::vector<passes::PassRecord> records = builder::run_pipeline(*g, {stages.front()});
  if (!backend.runs_data_dependent_shapes()) {
    std::optional<builder::HostTailSplit> split = builder::split_host_tail(
        *g, builder::evaluate_static_prefix(*g, builder::bind_input_shapes(*g, config.input_shapes),
                                            /*trust_subgraph_inference=*/true));
    if (split) {
      return std::make_unique<Engine>(build_split_engine(*g, std::move(*split), config, records));
    }
  }
  return std::make_unique<Engine>(build_optimized(std::move(g), config, std::move(records)));
}

}  // namespace kiln
