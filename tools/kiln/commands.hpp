// The `kiln` subcommands as functions, so tests call them directly. Each `add_*` registers the
// subcommand's options on a CLI11 app; each `*_command` does the work, printing results to `out`
// and notes to `err`, and throws kiln::Error on bad input. kiln_main ties them together.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "pipeline_options.hpp"
#include "surgeon.hpp"

namespace kiln::tools {

struct BuildOptions {
  std::string model;
  std::string output;  // default: the model path with extension .plan
  std::string backend = "cpu";
  bool fp16 = false;
  bool bf16 = false;
  std::vector<std::string> shapes;  // NAME=1x3x224x224: the shapes activation memory is planned for
  bool no_tf32 = false;
  std::vector<std::string> precision_constraints;  // LAYER=PRECISION (fp32, tf32, fp16, bf16)
  bool strict_types = false;
  std::string layout = "auto";  // auto, nchw, nhwc: activation layout around convolutions
  bool verbose = false;
  std::string timing_cache;          // file the CUDA auto-tuner reads and extends
  uint64_t workspace_limit_mib = 0;  // 0: the builder's default
  int opt_level = 3;                 // BuilderConfig::optimization_level
  PipelineOptions pipeline;          // --disable-pass, --tactic
};
CLI::App* add_build_command(CLI::App& app, BuildOptions& opts);
void build_command(const BuildOptions& opts, std::ostream& out, std::ostream& err);

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  std::string output_dir;           // empty: outputs are only summarized
  uint64_t seed = 0;
};
CLI::App* add_run_command(CLI::App& app, RunOptions& opts);
void run_command(const RunOptions& opts, std::ostream& out, std::ostream& err);

struct InspectOptions {
  std::string model;
  bool json = false;
};
CLI::App* add_inspect_command(CLI::App& app, InspectOptions& opts);
void inspect_command(const InspectOptions& opts, std::ostream& out, std::ostream& err);

struct BenchOptions {
  std::string model;
  std::string backend;  // empty: cpu for an ONNX model, a plan's own backend
  bool fp16 = false;
  bool bf16 = false;
  bool no_tf32 = false;
  std::string layout = "auto";      // auto, nchw, nhwc (ONNX models)
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  uint64_t seed = 0;
  double warmup_ms = 200;
  double duration_s = 3;
  int64_t iterations = 0;  // > 0: count iterations instead of --duration
  int streams = 1;
  bool cuda_graph = false;
  bool profile = false;
  std::string json;          // file for the JSON report
  std::string timing_cache;  // for an ONNX model built in memory for CUDA
  PipelineOptions pipeline;  // --disable-pass, --tactic (ONNX models)
};
CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
void bench_command(const BenchOptions& opts, std::ostream& out, std::ostream& err);

struct CompareOptions {
  std::string model;
  std::string runners;        // empty: kiln-cpu,ort (kiln-cpu with --reference)
  std::string reference_dir;  // NAME.npy reference outputs instead of a second runner
  std::string python = "python3";
  bool fp16 = false;  // these four apply to the first runner, which must be a kiln runner
  bool bf16 = false;
  bool no_tf32 = false;
  std::vector<std::string> precision_constraints;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  uint64_t seed = 0;
  double atol = -1;  // < 0: the default for the first runner's precision
  double rtol = -1;
  bool layerwise = false;
  bool bisect_precision = false;
  int max_builds = 32;
  std::string save_outputs;  // DIR/<runner>/<tensor>.npy
  std::string json;
};
CLI::App* add_compare_command(CLI::App& app, CompareOptions& opts);
void compare_command(const CompareOptions& opts, std::ostream& out, std::ostream& err);

// The whole tool: parses argv, runs one subcommand. Returns the exit code: 0 on success, 1 when
// the subcommand fails (after printing "kiln <subcommand>: error: <message>" to err), 2 on a
// usage error.
int kiln_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace kiln::tools
