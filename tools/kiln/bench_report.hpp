// What `kiln bench` measured, and its two renderings: the text summary and the --json export.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench_runner.hpp"
#include "bench_stats.hpp"
#include "kiln/tensor.hpp"

namespace kiln::tools {

// One measured loop: its latency statistics and throughput.
struct PhaseResult {
  std::string what;  // how the latency was timed, in words
  int64_t iterations = 0;
  int streams = 1;
  double wall_s = 0;
  LatencyStats latency_ms;
  double inferences_per_s = 0;  // iterations / wall time, all streams together
  double items_per_s = 0;       // inferences_per_s * batch
};
PhaseResult make_phase(const std::string& what, const PhaseSamples& samples, int64_t batch);

// Per-layer time from the profiling loop (run apart from the timed loops).
struct LayerTime {
  std::string name;
  std::string op;
  double total_ms = 0;  // summed over the profiled iterations
};
struct LayerProfile {
  std::string method;
  int64_t iterations = 0;
  std::vector<LayerTime> layers;  // in execution order
};

struct InputInfo {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;
};

struct BenchReport {
  std::string model;
  std::string format;  // "onnx" or "plan"
  std::string backend;
  std::string device;
  bool fp16 = false;
  bool bf16 = false;
  std::optional<bool> tf32;  // ONNX models: whether the build allowed TF32; plans: as built
  bool cuda_graph = false;
  int streams = 1;
  std::optional<double> build_s;  // ONNX models only
  std::optional<double> load_s;   // plans only
  int64_t layers = 0;
  std::vector<InputInfo> inputs;
  int64_t batch = 1;
  std::string batch_source;  // which dimension gave the batch
  StopRule rule;
  std::optional<PhaseResult> gpu_compute;  // CUDA: events around enqueue()
  std::optional<LatencyStats> host_enqueue_ms;
  PhaseResult end_to_end;  // execute(): host tensors in, host tensors out
  std::optional<LayerProfile> profile;
};

inline constexpr const char* kPercentileMethod =
    "linear interpolation between closest ranks (NumPy default)";

void print_report(const BenchReport& report, std::ostream& out);
nlohmann::json report_json(const BenchReport& report);

}  // namespace kiln::tools
