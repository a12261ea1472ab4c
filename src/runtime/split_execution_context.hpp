// Runs a split engine (build/host_tail.hpp): the GPU part through its own context, then the host
// tail through a CPU context on the GPU part's outputs. The outputs of the tail have shapes known
// only when it runs, so there is no enqueue() onto device buffers: execute() it is.
#pragma once

#include <memory>

#include "runtime/engine_impl.hpp"

namespace kiln {

class SplitExecutionContext final : public ExecutionContext {
 public:
  // `gpu` is a context of `engine` itself (whose graph is the GPU part), null when that part has
  // no layers; the tail's is made here.
  SplitExecutionContext(std::shared_ptr<const Engine::Impl> engine,
                        std::unique_ptr<ExecutionContext> gpu);
  std::vector<Tensor> execute(const std::map<std::string, Tensor>& inputs) override;
  void enqueue(const std::map<std::string, void*>& device_bindings, void* stream) override;
  void set_cuda_graph(bool enabled) override {
    if (gpu_) gpu_->set_cuda_graph(enabled);
  }
  // Both parts report their layers, the GPU part's first.
  void set_profiler(Profiler* profiler) override {
    if (gpu_) gpu_->set_profiler(profiler);
    host_->set_profiler(profiler);
  }
  // The GPU part's own context, whose enqueue() runs the layers before the host part (for
  // benchmarks and profiles of that part); null when every layer runs on the host.
  ExecutionContext* device_part() override { return gpu_.get(); }

 private:
  std::shared_ptr<const Engine::Impl> engine_;
  std::unique_ptr<ExecutionContext> gpu_;
  std::unique_ptr<ExecutionContext> host_;
};

}  // namespace kiln
