// CUDA executor: static planning at creation, launch-only enqueue, optional CUDA graph replay.
#include "backends/cuda/cuda_execution_context.hpp"

#include <sstream>
#include <unordered_map>

#include "backends/cpu/kernel.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_weights.hpp"
#include "backends/cuda/host_fallback.hpp"
#include "backends/cuda/tactic.hpp"
#include "core/logging.hpp"
#include "kiln/profiler.hpp"
#include "runtime/activation_layout.hpp"

namespace kiln::cuda {
namespace {

Shape static_shape(const ir::Value& v) {
  auto s = v.shape ? ir::to_concrete(*v.shape) : std::nullopt;
  if (!s) {
    fail(ErrorCode::kInvalidArgument, "tensor '", v.name, "' has shape ",
         ir::sym_shape_to_string(v.shape),
         "; CUDA engines need static shapes: build with every input shape given");
  }
  return *s;
}

bool is_static(const ir::Value& v) {
  return v.shape && ir::to_concrete(*v.shape).has_value();
}

// Why the graph cannot have static shapes, naming where they are lost: an input given without
// its shape, or the first layer whose output size depends on the data (NonZero, NMS...).
void check_static_shapes(const ir::Graph& graph) {
  for (const ir::Value* v : graph.inputs()) {
    if (!is_static(*v)) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' has shape ",
           ir::sym_shape_to_string(v->shape),
           "; CUDA engines need static shapes: build with every input shape given (--shape ",
           v->name, "=...)");
    }
  }
  for (const auto& n : graph.nodes()) {
    for (const ir::Value* o : n->outputs) {
      if (!o || is_static(*o)) continue;
      fail(ErrorCode::kUnsupported, "tensor '", o->name, "' (output of ", n->describe(),
           ") has shape ", ir::sym_shape_to_string(o->shape),
           ": its size depends on the data, and CUDA engines need every shape known at build ",
           "time. Run this model on the CPU backend, or cut the graph before this layer (kiln ",
           "surgeon extract) and run the part after it on the CPU");
    }
  }
  // Every other value is a constant, whose shape is its data's.
}

}  // namespace

bool device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

int device_compute_capability() {
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.major * 10 + prop.minor;
}

void check_cuda_support(const ir::Graph& graph, bool report_host_layers) {
  std::ostringstream missing, on_host;
  int count = 0, host_count = 0;
  for (const auto& n : graph.nodes()) {
    if (CudaKernelRegistry::instance().has(n->op)) continue;
    if (runs_on_host(n->op)) {
      on_host << "\n  - " << n->describe();
      ++host_count;
      continue;
    }
    missing << "\n  - " << n->describe();
    ++count;
  }
  if (count) {
    fail(ErrorCode::kUnsupported, count, " layer(s) have no CUDA kernel:", missing.str());
  }
  check_static_shapes(graph);
  if (host_count && report_host_layers) {
    log(Severity::kWarning,
        cat(host_count, " layer(s) have no CUDA kernel and run their CPU kernel on the host, in ",
            "stream order (inputs copied to the host and outputs back, no host synchronisation):",
            on_host.str()));
  }
}

namespace {

// The layer's kernel, prepared (its workspace need raising `workspace`): the CUDA kernel, or the
// CPU kernel run on the host in stream order where the op has no CUDA kernel, or where its CUDA
// kernel cannot take this layer (kUnsupported: a parameter it needs constant given at run time, a
// type it lacks) and the CPU kernel can. Anything else, or a layer neither takes, fails with the
// CUDA kernel's reason.
std::unique_ptr<CudaKernel> prepare_layer(const CudaKernelContext& ctx, size_t& workspace) {
  const ir::Node& n = ctx.node;
  if (runs_on_host(n.op)) {
    std::unique_ptr<CudaKernel> host = make_host_fallback_kernel(n);
    workspace = std::max(workspace, host->prepare(ctx));
    return host;
  }
  std::unique_ptr<CudaKernel> kernel = CudaKernelRegistry::instance().create(n);
  try {
    workspace = std::max(workspace, kernel->prepare(ctx));
    return kernel;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported || !cpu::CpuKernelRegistry::instance().has(n.op)) {
      throw;
    }
    std::unique_ptr<CudaKernel> host = make_host_fallback_kernel(n);
    size_t bytes = 0;
    try {
      bytes = host->prepare(ctx);
    } catch (const Error&) {
      throw e;  // the CUDA kernel's reason is the one to act on
    }
    log(Severity::kWarning,
        cat(e.what(), "; it runs its CPU kernel on the host instead, in stream ",
            "order (inputs copied to the host and outputs back)"));
    workspace = std::max(workspace, bytes);
    return host;
  }
}

}  // namespace

CudaExecutionContext::CudaExecutionContext(std::shared_ptr<const Engine::Impl> engine,
                                           const PrepareProgress& progress)
    : engine_(std::move(engine)) {
  if (!device_available()) {
    fail(ErrorCode::kUnsupported, "no CUDA device is available to run this engine");
  }
  const ir::Graph& g = *engine_->graph;
  check_cuda_support(g, /*report_host_layers=*/false);  // the builder reported them
  KILN_CUDA_CHECK(cudaGetDevice(&libs_.device));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, libs_.device));
  libs_.sm_count = prop.multiProcessorCount;
  libs_.compute_capability = prop.major * 10 + prop.minor;
  cublaslt_ = make_cublaslt_handle();
  cudnn_ = make_cudnn_handle();
  libs_.cublaslt = cublaslt_.get();
  libs_.cudnn = cudnn_.get();
  tuner_ = std::make_unique<TacticTuner>(
      TuningOptions{engine_->tune_tactics, engine_->timing_cache_path, engine_->workspace_limit},
      libs_.device);
  libs_.tuner = tuner_.get();
  stream_ = make_nonblocking_stream();
  weights_ = device_weights_for(*engine_);

  // Activations live where the engine's memory plan puts them, in one arena (views, in-place
  // writes, Concats assembled by their inputs); views and assembled Concats launch nothing. An
  // engine without a plan packs its activations by lifetime.
  ActivationLayout layout = engine_->memory
                                ? follow_memory_plan(g, *engine_->memory)
                                : pack_activations(g, [](const ir::Value& v) {
                                    return shape_numel(static_shape(v)) * element_size(v.dtype);
                                  });
  arena_ = DeviceBuffer(std::max<uint64_t>(layout.arena_bytes, 1));  // no null tensor pointers

  std::unordered_map<const ir::Value*, std::vector<BindingUse>> uses;
  auto view = [&](const ir::Value* v, size_t layer, bool is_output, size_t index) {
    DeviceTensor t;
    if (!v) return t;
    t.dtype = v->dtype;
    t.shape = static_shape(*v);
    auto it = layout.location.find(v);
    if (it == layout.location.end()) {
      fail(ErrorCode::kInternal, "tensor '", v->name, "' has no place in device memory");
    }
    const TensorLocation& where = it->second;
    switch (where.kind) {
      case TensorLocation::Kind::kArena:
        t.data = static_cast<char*>(arena_.get()) + where.offset;
        break;
      case TensorLocation::Kind::kConstant:
        t.data = weights_->find(where.source);
        break;
      case TensorLocation::Kind::kBound:  // a graph input or output, or a view of one
        uses[where.source].push_back({layer, is_output, index});
        break;
    }
    return t;
  };
  size_t workspace_bytes = 0;
  const size_t launching = g.nodes().size() - layout.skipped.size();
  for (const auto& n : g.nodes()) {
    if (layout.skipped.count(n.get())) continue;
    size_t layer = contexts_.size();
    if (progress) progress(layer, launching, n.get());
    CudaKernelContext ctx{*n, {}, {}, stream_.get(), nullptr, 0, &libs_};
    for (size_t i = 0; i < n->inputs.size(); ++i)
      ctx.inputs.push_back(view(n->inputs[i], layer, false, i));
    for (size_t i = 0; i < n->outputs.size(); ++i)
      ctx.outputs.push_back(view(n->outputs[i], layer, true, i));
    kernels_.push_back(prepare_layer(ctx, workspace_bytes));
    contexts_.push_back(std::move(ctx));
  }
  if (progress) progress(contexts_.size(), launching, nullptr);
  workspace_ = DeviceBuffer(workspace_bytes);
  for (auto& ctx : contexts_) {
    ctx.workspace = workspace_.get();
    ctx.workspace_bytes = workspace_bytes;
  }
  for (const ir::Value* v : g.inputs()) binding_uses_.emplace_back(v, uses[v]);
  for (const ir::Value* v : g.outputs()) {
    if (v->is_constant()) {
      passthrough_outputs_.emplace_back(v, weights_->find(v));
    } else if (g.is_graph_input(v)) {
      passthrough_outputs_.emplace_back(v, nullptr);
    }
    binding_uses_.emplace_back(v, uses[v]);
  }
}

// The members destroy themselves, kernels before the handles they were prepared with.
CudaExecutionContext::~CudaExecutionContext() = default;

void CudaExecutionContext::bind(const std::map<std::string, void*>& device_bindings) {
  for (auto& [value, list] : binding_uses_) {
    auto it = device_bindings.find(value->name);
    if (it == device_bindings.end() || !it->second) {
      fail(ErrorCode::kInvalidArgument, "no device buffer bound for tensor '", value->name, "'");
    }
    for (const BindingUse& u : list) {
      auto& slot =
          u.is_output ? contexts_[u.layer].outputs[u.index] : contexts_[u.layer].inputs[u.index];
      slot.data = it->second;
    }
  }
  // Comparing first keeps the steady state (the same buffers every call) free of host allocation.
  if (bound_ != device_bindings) bound_ = device_bindings;
}

void CudaExecutionContext::launch_layers(cudaStream_t stream,
                                         const std::vector<CudaEvent>* events) {
  // A profiled launch (events) never goes into a graph.
  LayerHook hook = use_graph_ && !events ? nullptr : layer_hook_;
  for (size_t i = 0; i < kernels_.size(); ++i) {
    contexts_[i].stream = stream;
    if (hook) hook(&contexts_[i].node, stream, layer_hook_user_);
    if (events) KILN_CUDA_CHECK(cudaEventRecord((*events)[i].get(), stream));
    kernels_[i]->enqueue(contexts_[i]);
  }
  if (hook) hook(nullptr, stream, layer_hook_user_);
  if (events) KILN_CUDA_CHECK(cudaEventRecord(events->back().get(), stream));
  for (const auto& [value, source] : passthrough_outputs_) {
    const void* src = source ? source : bound_.at(value->name);
    size_t bytes = shape_numel(static_shape(*value)) * element_size(value->dtype);
    KILN_CUDA_CHECK(
        cudaMemcpyAsync(bound_.at(value->name), src, bytes, cudaMemcpyDeviceToDevice, stream));
  }
  KILN_CUDA_CHECK(cudaGetLastError());
}

void CudaExecutionContext::launch_profiled(cudaStream_t stream) {
  while (layer_events_.size() < kernels_.size() + 1) layer_events_.push_back(make_event());
  launch_layers(stream, &layer_events_);
  KILN_CUDA_CHECK(cudaEventSynchronize(layer_events_.back().get()));
  for (size_t i = 0; i < kernels_.size(); ++i) {
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, layer_events_[i].get(), layer_events_[i + 1].get()));
    profiler_->report_layer_time({contexts_[i].node.name, contexts_[i].node.op, ms});
  }
}

void CudaExecutionContext::enqueue(const std::map<std::string, void*>& device_bindings,
                                   void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (profiler_) {
    bind(device_bindings);
    launch_profiled(s);
    return;
  }
  if (!use_graph_) {
    bind(device_bindings);
    launch_layers(s);
    return;
  }
  // A captured graph bakes in the buffers and stream it was captured with; capture again when
  // either changes.
  if (!graph_exec_ || device_bindings != graph_bindings_ || s != graph_stream_) {
    graph_exec_.reset();
    bind(device_bindings);
    cudaGraph_t graph = nullptr;
    KILN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      launch_layers(s);
    } catch (...) {
      cudaStreamEndCapture(s, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    KILN_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
    cudaGraphExec_t exec = nullptr;
    cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    KILN_CUDA_CHECK(status);
    graph_exec_.reset(exec);
    graph_bindings_ = device_bindings;
    graph_stream_ = s;
  }
  KILN_CUDA_CHECK(cudaGraphLaunch(graph_exec_.get(), s));
}

std::vector<Tensor> CudaExecutionContext::execute(const std::map<std::string, Tensor>& inputs) {
  const ir::Graph& g = *engine_->graph;
  std::map<std::string, void*> bindings;
  auto staging = [&](const ir::Value* v) {
    auto& buf = staging_[v->name];
    size_t bytes = shape_numel(static_shape(*v)) * element_size(v->dtype);
    if (buf.size() < std::max<size_t>(bytes, 1)) buf = DeviceBuffer(std::max<size_t>(bytes, 1));
    bindings[v->name] = buf.get();
    return std::pair<void*, size_t>{buf.get(), bytes};
  };
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const ir::Value* v : g.inputs()) known |= v->name == name;
    if (!known) fail(ErrorCode::kInvalidArgument, "'", name, "' is not an input of this engine");
  }
  for (const ir::Value* v : g.inputs()) {
    auto it = inputs.find(v->name);
    if (it == inputs.end())
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' was not given");
    const Tensor& t = it->second;
    Shape want = static_shape(*v);
    if (t.dtype() != v->dtype || t.shape() != want) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' must be ", to_string(v->dtype),
           shape_to_string(want), " (the shape the engine was built for), got ",
           to_string(t.dtype()), shape_to_string(t.shape()));
    }
    auto [dst, bytes] = staging(v);
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, t.raw(), bytes, cudaMemcpyHostToDevice, stream_.get()));
  }
  for (const ir::Value* v : g.outputs()) {
    if (!bindings.count(v->name)) staging(v);
  }
  enqueue(bindings, stream_.get());
  std::vector<Tensor> result;
  for (const ir::Value* v : g.outputs()) {
    Tensor t(v->dtype, static_shape(*v));
    KILN_CUDA_CHECK(cudaMemcpyAsync(t.raw(), bindings.at(v->name), t.nbytes(),
                                    cudaMemcpyDeviceToHost, stream_.get()));
    result.push_back(std::move(t));
  }
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  for (size_t i = 0; i < kernels_.size(); ++i) {
    if (std::optional<Error> e = kernels_[i]->take_deferred_error()) {
      contexts_[i].fail(e->code(), "its CPU kernel (run on the host: the CUDA backend has no ",
                        "kernel for this op) failed: ", e->what());
    }
  }
  return result;
}

}  // namespace kiln::cuda
