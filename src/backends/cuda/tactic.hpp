// Auto-tuning of library tactics. A kernel's prepare() lists its candidates (cuBLASLt algorithms,
// cuDNN engine configs), best guess first, and asks the tuner which to use: with tuning on, the
// tuner times each on a scratch stream (warm-up, then the median of several runs) and keeps the
// fastest; the timing cache remembers the winner per layer signature, GPU and kiln version.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cuda_handles.hpp"
#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "builder/timing_cache.hpp"

namespace kiln::cuda {

struct TuningOptions {
  bool tune = false;       // time the candidates; otherwise take the cached winner or the first
  std::string cache_path;  // timing cache file ("" keeps the cache in memory for this process)
  // Candidates needing more scratch memory than this are never used (BuilderConfig's limit).
  size_t workspace_limit = std::numeric_limits<size_t>::max();
};

class TacticTuner {
 public:
  static constexpr int kWarmupRuns = 2;
  static constexpr int kTimedRuns = 5;

  TacticTuner(TuningOptions options, int device);
  ~TacticTuner();
  TacticTuner(const TacticTuner&) = delete;
  TacticTuner& operator=(const TacticTuner&) = delete;

  bool tuning() const { return options_.tune; }
  size_t workspace_limit() const { return options_.workspace_limit; }

  // The timing cache's winner for `signature` on this GPU and library versions, or "" when the
  // cache has none: a kernel whose candidates are costly to make (cuDNN plans compiled at
  // runtime) makes only that one, and choose() then takes it without timing.
  std::string cached_tactic(const std::string& signature) const;

  // Which of `names` (the candidates, best guess first) a layer of `signature` uses; candidate i
  // needs `workspace[i]` bytes of scratch memory. Those over the workspace limit are left out
  // (Error naming the layer if none is left), the tactic recorded in the layer
  // (ir/layer_tactic.hpp: a built plan's choice) wins while it is still a candidate, a pinned one
  // must be a candidate (Error kInvalidArgument naming the layer and the candidates), and the
  // choice is remembered for choices().
  size_t choose(const ir::Node& layer, const std::string& signature,
                const std::vector<std::string>& names, const std::vector<size_t>& workspace,
                const std::function<void(size_t, cudaStream_t)>& launch);

  // Each layer's chosen tactic name, for the builder to record in the plan.
  const std::map<const ir::Node*, std::string>& choices() const { return choices_; }

  // The serialized cuDNN plan of a layer's chosen tactic (conv_serialized_plan.hpp), kept while
  // tuning for the builder to store in the layer: loading the plan then reads it back instead of
  // compiling the tactic again.
  void keep_cudnn_plan(const ir::Node& layer, std::vector<char> json) {
    cudnn_plans_[&layer] = std::move(json);
  }
  const std::map<const ir::Node*, std::vector<char>>& cudnn_plans() const { return cudnn_plans_; }

 private:
  // Among candidates that all fit: the cached winner, else timing (when tuning) or the first.
  // `launch(i, stream)` runs candidate i once on `stream`; it is called only while tuning. A
  // candidate whose launch throws is skipped. A cached winner is used when it is still a candidate.
  size_t choose_by_timing(const std::string& signature, const std::vector<std::string>& names,
                          const std::function<void(size_t, cudaStream_t)>& launch);

  double median_time_ms(size_t index, const std::function<void(size_t, cudaStream_t)>& launch);

  TuningOptions options_;
  std::string key_suffix_;  // GPU name, kiln and library versions
  std::shared_ptr<TimingCache> cache_;
  std::map<const ir::Node*, std::string> choices_;
  std::map<const ir::Node*, std::vector<char>> cudnn_plans_;
  CudaStream stream_;
  CudaEvent start_, stop_;
};

// Device buffers standing in for a layer's tensors while its candidates are timed in prepare()
// (when the real ones are not bound yet): constants keep their uploaded data, every other input
// and output gets scratch memory filled with small finite values.
class TuningScratch {
 public:
  TuningScratch(const CudaKernelContext& ctx, size_t workspace_bytes);
  // nullptr past the node's last input: an omitted optional input, as in DeviceTensor.
  void* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  void* output(size_t i) const { return outputs_.at(i); }
  void* workspace() const { return workspace_.get(); }

 private:
  std::vector<DeviceBuffer> owned_;
  std::vector<void*> inputs_, outputs_;
  DeviceBuffer workspace_;
};

}  // namespace kiln::cuda
