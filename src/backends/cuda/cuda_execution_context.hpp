// Runs an engine on a CUDA GPU. Everything that can be decided once is decided when the context is
// created: shapes (CUDA engines are built with static shapes), device memory for activations (one
// arena, laid out by the engine's memory plan: runtime/activation_layout.hpp) and kernel
// workspace, kernel algorithms. enqueue() then only launches kernels, so it can be captured in a
// CUDA graph. Weights are uploaded once per engine and shared by its contexts.
#pragma once

#include <functional>
#include <memory>

#include "backends/cuda/cuda_handles.hpp"
#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "backends/cuda/tactic.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::cuda {

// True when a CUDA device is present and usable.
bool device_available();

// The current device's compute capability as major * 10 + minor (90 for Hopper).
int device_compute_capability();

// The architecture kiln generates code for where no GPU is present to ask: Hopper, the target
// CMake compiles the CUDA backend for.
inline constexpr int kDefaultTargetArch = 90;

// Throws Error(kUnsupported) listing every layer with neither a CUDA kernel nor a CPU kernel to
// run on the host (host_fallback.hpp), and Error(kInvalidArgument) naming a tensor whose shape
// is not static; with `report_host_layers`, logs a warning listing the layers that run on the
// host.
void check_cuda_support(const ir::Graph& graph, bool report_host_layers = true);

class DeviceWeights;

class CudaExecutionContext final : public ExecutionContext {
 public:
  // Called before each layer is prepared (its tactics chosen, timed when tuning) with the count
  // prepared so far, the total and the layer, and once after the last with a null layer.
  using PrepareProgress = std::function<void(size_t done, size_t total, const ir::Node* layer)>;
  explicit CudaExecutionContext(std::shared_ptr<const Engine::Impl> engine,
                                const PrepareProgress& progress = {});
  ~CudaExecutionContext() override;

  std::vector<Tensor> execute(const std::map<std::string, Tensor>& inputs) override;
  void enqueue(const std::map<std::string, void*>& device_bindings, void* stream) override;
  void set_cuda_graph(bool enabled) override { use_graph_ = enabled; }

  // The tactic each tuned layer uses (the builder records them in the plan).
  const TacticTuner& tuner() const { return *tuner_; }

  // While set, enqueue() launches without the CUDA graph, records an event before each layer and
  // after the last, waits for the last and reports the time between consecutive events.
  void set_profiler(Profiler* profiler) override { profiler_ = profiler; }

  // Launch hook (tests see which layers launch; per-layer times come from set_profiler): while
  // set, called on the launching thread before each layer is enqueued, with its node, and once
  // after the last, with nullptr. Not called while a CUDA graph is in use: a graph replays
  // without the host. Off by default; the steady-state launch path pays one branch per layer.
  using LayerHook = void (*)(const ir::Node* layer, cudaStream_t stream, void* user);
  void set_layer_hook(LayerHook hook, void* user) {
    layer_hook_ = hook;
    layer_hook_user_ = user;
  }

 private:
  void bind(const std::map<std::string, void*>& device_bindings);
  // `events` (profiled runs): one more than there are layers, recorded around them.
  void launch_layers(cudaStream_t stream, const std::vector<CudaEvent>* events = nullptr);
  void launch_profiled(cudaStream_t stream);

  std::shared_ptr<const Engine::Impl> engine_;
  std::shared_ptr<const DeviceWeights> weights_;
  // Declared before the kernels and the tuner, so destroyed after them.
  CublasLtHandle cublaslt_;
  CudnnHandle cudnn_;
  CudaStream stream_;
  CudaLibraries libs_;  // the handles above, as the kernels see them
  std::unique_ptr<TacticTuner> tuner_;
  DeviceBuffer arena_;
  DeviceBuffer workspace_;
  std::vector<std::unique_ptr<CudaKernel>> kernels_;
  std::vector<CudaKernelContext> contexts_;
  // Where each graph input/output appears in the kernel contexts, to patch at bind time.
  struct BindingUse {
    size_t layer;
    bool is_output;
    size_t index;
  };
  std::vector<std::pair<const ir::Value*, std::vector<BindingUse>>> binding_uses_;
  std::map<std::string, void*> bound_;
  // Graph outputs that no layer writes (constants, inputs passed through): copied at the end.
  std::vector<std::pair<const ir::Value*, const void*>> passthrough_outputs_;
  // execute() stages host tensors through these.
  std::map<std::string, DeviceBuffer> staging_;
  bool use_graph_ = false;
  CudaGraphExec graph_exec_;
  std::map<std::string, void*> graph_bindings_;
  cudaStream_t graph_stream_ = nullptr;
  LayerHook layer_hook_ = nullptr;
  void* layer_hook_user_ = nullptr;
  Profiler* profiler_ = nullptr;
  std::vector<CudaEvent> layer_events_;  // made on the first profiled run
};

}  // namespace kiln::cuda
