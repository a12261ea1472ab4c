// Per-layer timing of execution contexts (TensorRT's IProfiler): install a Profiler with
// ExecutionContext::set_profiler and every run reports the time of each layer it ran.
#pragma once

#include <string_view>

namespace kiln {

// One layer's time in one run. The strings live until report_layer_time returns.
struct LayerTiming {
  std::string_view name;  // the layer's name, as EngineInformation::layers lists it
  std::string_view op;
  // CPU: host time from the end of the previous layer (the start of execute(), inputs bound, for
  // the first) to the end of this one. GPU: time between CUDA events recorded on the stream
  // before this layer and before the next (after the last, for the last).
  double milliseconds = 0;
};

class Profiler {
 public:
  virtual ~Profiler() = default;
  // Called once per layer of a finished run, in the order the layers ran, on the thread that
  // ran it. Must not throw.
  virtual void report_layer_time(const LayerTiming& timing) = 0;
};

}  // namespace kiln
