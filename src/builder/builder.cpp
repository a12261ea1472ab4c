// Network parsing and engine building: import, optimize, check every layer can run on the
// target, plan activation memory, and package the result as an engine.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "backends/cpu/kernel.hpp"
#include "backends/cuda/flash_attention_heads.hpp"
#include "builder/choose_layout.hpp"
#include "builder/host_tail.hpp"
#include "builder/memory_planner.hpp"
#include "builder/precision.hpp"
#include "builder/static_shapes.hpp"
#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "onnx/importer.hpp"
#include "passes/pass_manager.hpp"
#include "passes/passes.hpp"
#include "runtime/engine_impl.hpp"
#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_execution_context.hpp"
#endif

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

void check_backend_support(const ir::Graph& g, Backend backend) {
  if (backend == Backend::kCuda) {
#ifdef KILN_WITH_CUDA
    cuda::check_cuda_support(g);
    return;
#else
    fail(ErrorCode::kUnsupported,
         "this kiln build has no CUDA backend (it was built without the CUDA toolkit)");
#endif
  }
  std::ostringstream missing;
  int count = 0;
  // Layers inside subgraphs (If branches, Loop bodies) need kernels too.
  auto check = [&](const ir::Graph& graph, const std::string& scope, auto& self) -> void {
    for (const auto& n : graph.nodes()) {
      if (!cpu::CpuKernelRegistry::instance().has(n->op)) {
        missing << "\n  - " << scope << n->describe();
        ++count;
      }
      for (const auto& [attr, value] : n->attrs.all()) {
        if (const auto* sub = std::get_if<ir::GraphAttr>(&value); sub && *sub) {
          self(**sub, cat(scope, "in '", attr, "' of ", n->describe(), ": "), self);
        }
      }
    }
  };
  check(g, "", check);
  if (count) {
    fail(ErrorCode::kUnsupported, count, " layer(s) have no ", to_string(backend),
         " kernel:", missing.str());
  }
}

std::string mib(uint64_t bytes) {
  return cat(static_cast<double>(bytes) / (1 << 20), " MiB");
}

// Plans the activation memory for the profile's input shapes. A graph whose shapes depend on
// data gets no plan (its contexts allocate activations one by one); a bad profile is an error.
std::optional<MemoryPlan> plan_activation_memory(const ir::Graph& g, const BuilderConfig& config) {
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
  MemoryPlan plan = builder::plan_memory(g, *shapes);
  log(Severity::kInfo,
      cat("activation memory plan: arena ", mib(plan.arena_bytes), ", lower bound ",
          mib(plan.lower_bound_bytes), ", all activations ", mib(plan.total_bytes)));
  return plan;
}

void log_precision(const builder::PrecisionSummary& s, const BuilderConfig& config) {
  bool reduced = config.fp16 || config.bf16 || !config.layer_precisions.empty();
  if (config.backend == Backend::kCpu && reduced) {
    // Useful to check a model's reduced-precision numerics before deploying it to a GPU.
    log(Severity::kInfo,
        "the CPU backend honours the precision flags: FP16/BF16 layers store their values and "
        "weights in that type and compute in FP32 (TF32 applies to GPU matrix work only)");
  }
  std::string counts;
  for (const auto& [name, n] : s.layers) counts += cat(counts.empty() ? "" : ", ", n, " ", name);
  log(reduced ? Severity::kInfo : Severity::kVerbose,
      cat("precision: ", counts.empty() ? "no layers" : counts, "; ", s.reformat_layers,
          " reformat layer(s) inserted; ", s.converted_weights, " weight tensor(s) converted"));
}

// CUDA builds on a machine with a GPU: tunes every layer now (a context's creation times the
// candidate tactics) and records each winner in its layer's `tactic` attribute, so the plan
// carries the choice and loading it times nothing. Without a GPU the choice waits for the load.
void record_cuda_tactics(ir::Graph& graph, const std::shared_ptr<const Engine::Impl>& impl,
                         const BuilderConfig& config) {
#ifdef KILN_WITH_CUDA
  if (!cuda::device_available()) {
    log(Severity::kInfo, "no CUDA device here: each layer's tactic is chosen when the plan loads");
    return;
  }
  std::map<const ir::Node*, std::string> choices;
  try {
    cuda::CudaExecutionContext::PrepareProgress progress;
    if (config.progress) {
      auto start = std::chrono::steady_clock::now();
      progress = [&config, start](size_t done, size_t total, const ir::Node* layer) {
        std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        config.progress(BuildProgress{done, total, layer ? layer->name : "", elapsed.count()});
      };
    }
    cuda::CudaExecutionContext context(impl, progress);
    choices = context.tuner().choices();
  } catch (const Error& e) {
    // The plan is still valid without recorded tactics: they are chosen when it loads. A layer
    // that cannot run at all fails there, naming itself, as it would have here.
    log(Severity::kWarning, cat("could not tune on this GPU (", e.what(),
                                "); each layer's tactic is chosen when the plan loads"));
    return;
  }
  size_t recorded = 0;
  for (const auto& n : graph.nodes()) {
    auto it = choices.find(n.get());
    if (it == choices.end()) continue;
    n->attrs.set(cuda::kTacticAttribute, it->second);
    ++recorded;
  }
  log(Severity::kInfo, cat("tactics: recorded the chosen tactic of ", recorded, " layer(s)"));
#endif
}

// Whether the CUDA flash-attention kernel takes the layer (flash_attention_heads.hpp).
bool reads_interleaved_heads_on_cuda(const ir::Node& n) {
  const ir::Value* q = n.input(0);
  const ir::Value* v = n.input(2);
  if (!q || !v || !q->shape || !v->shape) return false;
  const ir::Dim& d = q->shape->back();
  const ir::Dim& dv = v->shape->back();
  return cuda::flash_attention_dtype(q->dtype, ir::allows_tf32(n)) && d.known() && dv.known() &&
         cuda::flash_attention_heads(d.value, dv.value);
}

// Everything after the default passes, for one target: its rewrites, layout, precision, the
// support check, the memory plan and (GPU builds) tuning.
std::shared_ptr<Engine::Impl> build_optimized(std::unique_ptr<ir::Graph> g,
                                              const BuilderConfig& config) {
  // GPU convolution libraries run a patch embedding (3 channels, stride = kernel) far from the
  // matrix units' rate; as a GEMM it runs near it. CPU convolutions (oneDNN) handle it well.
  if (config.backend == Backend::kCuda && config.optimization_level > 0) {
    if (passes::patchify_to_gemm(*g)) passes::collapse_view_chains(*g);
  }
  // Layout before precision: the Transposes at region borders then get their neighbours'
  // precision, and Cast layers go where precisions differ, never between a Transpose pair. Level 0
  // (no optimization) keeps the model's layout unless one is asked for.
  if (config.optimization_level > 0 || config.layout != Layout::kAuto)
    builder::choose_layout(*g, config.backend, config.layout);
  builder::PrecisionSummary precision = builder::assign_precisions(*g, config);
  log_precision(precision, config);
  // After precision: on CUDA only 16-bit attention layers read interleaved heads at full speed
  // (the flash kernel); elsewhere the Transposes feed the cuBLASLt GEMM tactic packed operands.
  // The CPU kernel reads any strides alike, so there every attention layer takes them.
  if (config.optimization_level > 0) {
    std::function<bool(const ir::Node&)> wanted;  // empty: every attention layer
    if (config.backend == Backend::kCuda) wanted = reads_interleaved_heads_on_cuda;
    passes::merge_attention_projections(*g, wanted);
    if (passes::absorb_attention_transposes(*g, wanted)) passes::fuse_residual_through_reshape(*g);
  }
  if (config.backend == Backend::kCuda && config.optimization_level > 0) {
    passes::space_to_depth_stems(*g);
    passes::pad_narrow_conv_channels(*g);
    passes::fuse_rearrange_chains(*g);
  }
  check_backend_support(*g, config.backend);
  std::optional<MemoryPlan> memory = plan_activation_memory(*g, config);
  ir::Graph& graph = *g;  // the engine's graph; nobody else holds the engine yet
  auto impl = make_engine_impl(std::move(g), config.backend, &config, std::move(memory));
  // Below level 3 nothing is timed: each layer takes its first applicable tactic when it loads.
  if (config.backend == Backend::kCuda && impl->tune_tactics && !graph.nodes().empty()) {
    record_cuda_tactics(graph, impl, config);
  }
  return impl;
}

// A GPU build of a graph whose later layers have data-dependent shapes: the static part builds as
// a GPU engine, the rest as a CPU engine run on the host after it (build/host_tail.hpp).
std::shared_ptr<Engine::Impl> build_split_engine(const ir::Graph& g, builder::HostTailSplit split,
                                                 const BuilderConfig& config) {
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
  std::shared_ptr<Engine::Impl> impl = build_optimized(std::move(split.head), config);
  // The host part runs in FP32 (post-processing: box decoding, scores, NMS) at the same level.
  BuilderConfig host_config;
  host_config.backend = Backend::kCpu;
  host_config.optimization_level = config.optimization_level;
  attach_host_tail(*impl, build_optimized(std::move(split.tail), host_config), split.why, inputs,
                   outputs, ErrorCode::kInternal);
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
  std::unique_ptr<ir::Graph> g = network.impl().graph->clone();
  passes::PassManager(passes::default_passes(config.optimization_level)).run(*g);
  if (config.backend == Backend::kCuda) {
    std::optional<builder::HostTailSplit> split = builder::split_host_tail(
        *g, builder::evaluate_static_prefix(*g, builder::bind_input_shapes(*g, config.input_shapes),
                                            /*trust_subgraph_inference=*/true));
    if (split) return std::make_unique<Engine>(build_split_engine(*g, std::move(*split), config));
  }
  return std::make_unique<Engine>(build_optimized(std::move(g), config));
}

}  // namespace kiln
