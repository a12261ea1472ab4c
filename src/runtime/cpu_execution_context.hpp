// Runs an engine's graph on the CPU, node by node, inferring concrete shapes as it goes and
// freeing each activation after its last use.
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/kernel.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {

class CpuExecutionContext final : public ExecutionContext {
 public:
  explicit CpuExecutionContext(std::shared_ptr<const Engine::Impl> engine);
  std::vector<Tensor> execute(const std::map<std::string, Tensor>& inputs) override;

  // Called after each layer with its outputs (used by layer-wise comparison and profiling).
  using LayerObserver = void (*)(const ir::Node&, const std::vector<Tensor>&, void*);
  void set_layer_observer(LayerObserver fn, void* user) {
    observer_ = fn;
    observer_user_ = user;
  }

 private:
  void bind_inputs(const std::map<std::string, Tensor>& inputs, std::vector<Tensor>& slots) const;

  std::shared_ptr<const Engine::Impl> engine_;
  std::vector<const ir::Node*> nodes_;
  std::vector<std::unique_ptr<cpu::CpuKernel>> kernels_;
  std::vector<std::vector<size_t>> node_inputs_;    // value slot per input (npos if omitted)
  std::vector<std::vector<size_t>> node_outputs_;   // value slot per output (npos if omitted)
  std::vector<std::vector<size_t>> release_after_;  // slots whose last use is node i
  std::vector<const ir::Value*> slot_values_;
  LayerObserver observer_ = nullptr;
  void* observer_user_ = nullptr;
};

}  // namespace kiln
