// Runs an engine's graph on the CPU, node by node, inferring concrete shapes as it goes. When the
// engine has a memory plan and a run's input shapes are the planned ones, activations live in one
// arena per context (allocated once, reused by every run), and Concat layers whose inputs were
// written into their slices of its output run nothing; otherwise each activation is allocated on
// its own and freed after its last use.
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {

class CpuExecutionContext final : public ExecutionContext {
 public:
  explicit CpuExecutionContext(std::shared_ptr<const Engine::Impl> engine);
  std::vector<Tensor> execute(const std::map<std::string, Tensor>& inputs) override;
  void set_profiler(Profiler* profiler) override { profiler_ = profiler; }

  // Called after each layer with its outputs (tests see where outputs live through it). In an
  // arena run the tensors are overwritten by later layers: clone those to keep.
  using LayerObserver = void (*)(const ir::Node&, const std::vector<Tensor>&, void*);
  void set_layer_observer(LayerObserver fn, void* user) {
    observer_ = fn;
    observer_user_ = user;
  }

 private:
  // Whether the engine's memory plan is followed this run (the arena allocated if need be).
  bool use_arena(const std::map<std::string, Tensor>& inputs);
  void bind_inputs(const std::map<std::string, Tensor>& inputs, std::vector<Tensor>& slots) const;
  // A Reshape-like layer run as a view of its input (no copy).
  Tensor view_output(const ir::Node& node, const std::vector<const Tensor*>& inputs) const;
  // The output of Concat layer `i` when its inputs lie in their planned slices of it, one after
  // the other and contiguous; an undefined tensor otherwise (the Concat must then run).
  Tensor assembled_concat(size_t i, const std::vector<const Tensor*>& inputs, uint8_t* base) const;

  std::shared_ptr<const Engine::Impl> engine_;
  std::vector<const ir::Node*> nodes_;
  std::vector<std::unique_ptr<cpu::CpuKernel>> kernels_;
  std::vector<std::vector<size_t>> node_inputs_;    // value slot per input (npos if omitted)
  std::vector<std::vector<size_t>> node_outputs_;   // value slot per output (npos if omitted)
  std::vector<std::vector<size_t>> release_after_;  // slots whose last use is node i
  std::vector<const ir::Value*> slot_values_;
  std::vector<size_t> input_slots_;   // slot of each graph input, in graph order
  std::vector<size_t> output_slots_;  // slot of each graph output, in graph order
  // From the memory plan: per node, per output, where it goes in the arena; and whether the
  // node's output is a view of its input.
  struct PlannedOutput {
    bool placed = false;
    uint64_t offset = 0;
    uint64_t bytes = 0;
    bool in_place = false;
  };
  std::vector<std::vector<PlannedOutput>> planned_;
  std::vector<bool> is_view_;
  std::vector<std::vector<uint64_t>> concat_slices_;  // per Concat layer assembled in place: the
                                                      // arena offset of each input (else empty)
  std::shared_ptr<void> arena_;
  bool arena_failed_ = false;
  LayerObserver observer_ = nullptr;
  void* observer_user_ = nullptr;
  Profiler* profiler_ = nullptr;
};

}  // namespace kiln
