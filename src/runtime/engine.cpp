// Engine: descriptors, layer listing, contexts, and plan save/load.
#include <fstream>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "plan/plan_file.hpp"
#include "runtime/cpu_execution_context.hpp"
#include "runtime/engine_impl.hpp"
#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_execution_context.hpp"
#endif

namespace kiln {

std::string_view version() {
  return KILN_VERSION;
}

std::string_view to_string(Backend b) {
  switch (b) {
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
  }
  return "unknown";
}

namespace {
Logger* g_logger = nullptr;
void forward_to_logger(Severity s, std::string_view m, void*) {
  if (g_logger) g_logger->log(static_cast<LogSeverity>(s), m);
}
}  // namespace

void set_logger(Logger* logger, LogSeverity max_severity) {
  g_logger = logger;
  set_log_sink(logger ? forward_to_logger : nullptr, nullptr);
  set_log_level(static_cast<Severity>(max_severity));
}

TensorDesc describe_value(const ir::Value& v) {
  TensorDesc d;
  d.name = v.name;
  d.dtype = v.dtype;
  if (v.shape) {
    for (const ir::Dim& dim : *v.shape) {
      d.dims.push_back(dim.known() ? dim.value : -1);
      d.dim_names.push_back(dim.symbol);
    }
  }
  return d;
}

std::shared_ptr<const Engine::Impl> make_engine_impl(std::unique_ptr<ir::Graph> graph,
                                                     Backend backend, const BuilderConfig* config,
                                                     std::optional<MemoryPlan> memory) {
  auto impl = std::make_shared<Engine::Impl>();
  impl->backend = backend;
  impl->memory = std::move(memory);
  if (config) {
    impl->tune_tactics = config->optimization_level >= 3;
    impl->timing_cache_path = config->timing_cache_path;
    impl->workspace_limit = config->workspace_limit;
  }
  for (const ir::Value* v : graph->inputs()) impl->inputs.push_back(describe_value(*v));
  for (const ir::Value* v : graph->outputs()) impl->outputs.push_back(describe_value(*v));
  impl->graph = std::move(graph);
  return impl;
}

Network::Network(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Network::Network() : impl_(std::make_unique<Impl>()) {
  impl_->graph = std::make_unique<ir::Graph>();
  impl_->graph->name = "network";
}
Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

Engine::Engine(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Backend Engine::backend() const {
  return impl_->backend;
}
const std::vector<TensorDesc>& Engine::inputs() const {
  return impl_->inputs;
}
const std::vector<TensorDesc>& Engine::outputs() const {
  return impl_->outputs;
}

std::vector<LayerInfo> Engine::layers() const {
  std::vector<LayerInfo> out;
  for (const auto& n : impl_->graph->nodes()) {
    LayerInfo l;
    l.name = n->name;
    l.op = n->op;
    for (const ir::Value* v : n->inputs) l.inputs.push_back(v ? v->name : "");
    for (const ir::Value* v : n->outputs) l.outputs.push_back(v ? v->name : "");
    l.origins = n->origins;
    l.precision = ir::layer_precision(*n);
    for (const auto& [k, v] : n->attrs.all()) l.attributes[k] = ir::attr_value_to_string(v);
    out.push_back(std::move(l));
  }
  return out;
}

void ExecutionContext::enqueue(const std::map<std::string, void*>&, void*) {
  fail(ErrorCode::kUnsupported,
       "enqueue() runs GPU engines; this engine runs on the CPU: use execute()");
}

void ExecutionContext::set_cuda_graph(bool) {
  fail(ErrorCode::kUnsupported, "CUDA graphs apply to GPU engines; this engine runs on the CPU");
}

std::unique_ptr<ExecutionContext> Engine::create_execution_context() const {
  switch (impl_->backend) {
    case Backend::kCpu:
      return std::make_unique<CpuExecutionContext>(impl_);
    case Backend::kCuda:
#ifdef KILN_WITH_CUDA
      return std::make_unique<cuda::CudaExecutionContext>(impl_);
#else
      break;
#endif
  }
  fail(ErrorCode::kUnsupported, "this kiln build cannot run engines for the ",
       to_string(impl_->backend), " backend (it was built without it)");
}

std::vector<uint8_t> Engine::serialize() const {
  return plan::write_plan(*impl_->graph, impl_->backend, impl_->memory ? &*impl_->memory : nullptr);
}

void Engine::save(const std::string& path) const {
  std::vector<uint8_t> bytes = serialize();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(ErrorCode::kIo, "cannot open '", path, "' for writing");
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail(ErrorCode::kIo, "cannot write plan file '", path, "'");
}

std::unique_ptr<Engine> Engine::load(const std::string& path) {
  plan::LoadedPlan p = plan::read_plan_file(path);
  plan::verify_plan_graph(*p.graph, path);
  return std::make_unique<Engine>(
      make_engine_impl(std::move(p.graph), p.backend, nullptr, std::move(p.memory)));
}

std::unique_ptr<Engine> Engine::deserialize(std::string_view bytes) {
  plan::LoadedPlan p = plan::read_plan_bytes(bytes, "<memory>");
  plan::verify_plan_graph(*p.graph, "<memory>");
  return std::make_unique<Engine>(
      make_engine_impl(std::move(p.graph), p.backend, nullptr, std::move(p.memory)));
}

}  // namespace kiln
