// The measurements of `kiln bench` per backend. Each fills the report's timed phases (and the
// layer profile when asked) for an engine and its inputs.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "bench_report.hpp"
#include "kiln/kiln.hpp"

namespace kiln::tools {

struct BenchPlan {
  const Engine& engine;
  const std::map<std::string, Tensor>& inputs;
  StopRule rule;
  int streams = 1;
  bool cuda_graph = false;
  bool profile = false;
  int64_t batch = 1;
};

// Runs `run` on this thread until `rule` is met (after one untimed run with `warm_up`) while
// `context` reports each layer's time to a Profiler, and sums them per layer in the order the
// layers ran. The layer profile of both backends; `method` says how the times were taken.
LayerProfile profile_layers(ExecutionContext& context, const StopRule& rule, bool warm_up,
                            const std::function<void()>& run, const std::string& method);

// CPU: execute() timed on the host, one context and thread per stream; the profile times each
// layer with the host clock (the CPU context's Profiler reports).
void measure_cpu(const BenchPlan& plan, BenchReport& report);

// CUDA: GPU compute time (CUDA events around enqueue() on device-resident buffers, host enqueue
// time beside it), then end-to-end execute() with its host-device copies; the profile records
// events between layers. Throws Error(kUnsupported) in a build without the CUDA backend.
void measure_cuda(const BenchPlan& plan, BenchReport& report);

}  // namespace kiln::tools
