// Engine: descriptors, layer listing, contexts, and plan save/load.
#include <algorithm>
#include <fstream>

#include "backends/backend.hpp"
#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "plan/plan_file.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/split_execution_context.hpp"

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
  d.rank_known = v.shape.has_value();
  if (v.shape) {
    for (const ir::Dim& dim : *v.shape) {
      d.dims.push_back(dim.known() ? dim.value : -1);
      d.dim_names.push_back(dim.symbol);
    }
  }
  return d;
}

std::shared_ptr<Engine::Impl> make_engine_impl(std::unique_ptr<ir::Graph> graph, Backend backend,
                                               const BuilderConfig* config,
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

void attach_host_tail(Engine::Impl& impl, std::shared_ptr<const Engine::Impl> host,
                      std::string reason, const std::vector<std::string>& engine_inputs,
                      const std::vector<std::string>& engine_outputs, ErrorCode error) {
  const ir::Graph& tail = *host->graph;
  const ir::Graph& gpu = *impl.graph;
  auto input_of = [](const ir::Graph& g, const std::string& name) -> const ir::Value* {
    const ir::Value* v = g.find_value(name);
    return v && g.is_graph_input(v) ? v : nullptr;
  };
  auto output_of = [](const ir::Graph& g, const std::string& name) -> const ir::Value* {
    const ir::Value* v = g.find_value(name);
    return v && g.is_graph_output(v) ? v : nullptr;
  };
  impl.inputs.clear();
  impl.outputs.clear();
  for (const std::string& name : engine_inputs) {
    const ir::Value* v = input_of(gpu, name);
    if (!v) v = input_of(tail, name);
    if (!v || output_of(gpu, name)) {
      fail(error, "split engine: its input '", name, "' is not an input of either part");
    }
    impl.inputs.push_back(describe_value(*v));
  }
  for (const std::string& name : engine_outputs) {
    const ir::Value* v = output_of(tail, name);
    if (!v) v = output_of(gpu, name);
    if (!v) fail(error, "split engine: its output '", name, "' is not an output of either part");
    impl.outputs.push_back(describe_value(*v));
  }
  // Every tail input comes from the GPU part or from the engine's inputs.
  for (const ir::Value* v : tail.inputs()) {
    if (!output_of(gpu, v->name) &&
        std::find(engine_inputs.begin(), engine_inputs.end(), v->name) == engine_inputs.end()) {
      fail(error, "split engine: the host part's input '", v->name,
           "' is neither an output of the GPU part nor an engine input");
    }
  }
  impl.host_tail = std::move(host);
  impl.host_tail_reason = std::move(reason);
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
  std::vector<const ir::Node*> nodes;
  for (const auto& n : impl_->graph->nodes()) nodes.push_back(n.get());
  const size_t on_device = nodes.size();
  if (impl_->host_tail) {
    for (const auto& n : impl_->host_tail->graph->nodes()) nodes.push_back(n.get());
  }
  for (const ir::Node* n : nodes) {
    LayerInfo l;
    l.name = n->name;
    l.op = n->op;
    for (const ir::Value* v : n->inputs) l.inputs.push_back(v ? v->name : "");
    for (const ir::Value* v : n->outputs) l.outputs.push_back(v ? v->name : "");
    l.origins = n->origins;
    l.precision = ir::layer_precision(*n);
    for (const auto& [k, v] : n->attrs.all()) l.attributes[k] = ir::attr_value_to_string(v);
    l.on_host = out.size() >= on_device;
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
  // A split engine whose layers all run on the host needs no GPU.
  if (impl_->host_tail && impl_->graph->nodes().empty()) {
    return std::make_unique<SplitExecutionContext>(impl_, nullptr);
  }
  const backends::Backend* backend = backends::find_backend(impl_->backend);
  if (!backend) {
    fail(ErrorCode::kUnsupported, "this kiln build cannot run engines for the ",
         to_string(impl_->backend), " backend (it was built without it)");
  }
  std::unique_ptr<ExecutionContext> context = backend->create_context(impl_);
  if (impl_->host_tail) {
    return std::make_unique<SplitExecutionContext>(impl_, std::move(context));
  }
  return context;
}

std::vector<uint8_t> Engine::serialize() const {
  std::optional<plan::HostTailSection> tail;
  if (impl_->host_tail) {
    tail = plan::HostTailSection{impl_->host_tail->graph.get(), impl_->host_tail_reason, {}, {}};
    for (const TensorDesc& d : impl_->inputs) tail->engine_inputs.push_back(d.name);
    for (const TensorDesc& d : impl_->outputs) tail->engine_outputs.push_back(d.name);
  }
  return plan::write_plan(*impl_->graph, impl_->backend, impl_->memory ? &*impl_->memory : nullptr,
                          tail ? &*tail : nullptr);
}

void Engine::save(const std::string& path) const {
  std::vector<uint8_t> bytes = serialize();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(ErrorCode::kIo, "cannot open '", path, "' for writing");
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail(ErrorCode::kIo, "cannot write plan file '", path, "'");
}

namespace {

std::unique_ptr<Engine> engine_from_plan(plan::LoadedPlan p, const std::string& source) {
  plan::verify_plan_graph(*p.graph, source);
  auto impl = make_engine_impl(std::move(p.graph), p.backend, nullptr, std::move(p.memory));
  if (p.host_tail) {
    plan::verify_plan_graph(*p.host_tail, source);
    try {
      attach_host_tail(*impl, make_engine_impl(std::move(p.host_tail), Backend::kCpu),
                       std::move(p.host_tail_reason), p.engine_inputs, p.engine_outputs,
                       ErrorCode::kInvalidPlan);
    } catch (const Error& e) {
      fail(ErrorCode::kInvalidPlan, "plan '", source, "' is invalid: ", e.what());
    }
  }
  return std::make_unique<Engine>(impl);
}

}  // namespace

std::unique_ptr<Engine> Engine::load(const std::string& path) {
  return engine_from_plan(plan::read_plan_file(path), path);
}

std::unique_ptr<Engine> Engine::deserialize(std::string_view bytes) {
  return engine_from_plan(plan::read_plan_bytes(bytes, "<memory>"), "<memory>");
}

}  // namespace kiln
