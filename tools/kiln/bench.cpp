// `kiln bench`: build or load an engine, warm it up, time it, and report latency statistics,
// throughput and (with --profile) per-layer time, as text and optionally as JSON.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "bench_measure.hpp"
#include "bench_model.hpp"
#include "commands.hpp"
#include "kiln/error.hpp"
#include "option_values.hpp"
#include "pipeline_options.hpp"

namespace kiln::tools {
namespace {

// The batch size behind items/s: the first dimension of the first input that has one.
void set_batch(const Engine& engine, const std::map<std::string, Tensor>& inputs,
               BenchReport& report) {
  report.batch = 1;
  report.batch_source = "no input has a dimension; counted as 1";
  for (const TensorDesc& v : engine.inputs()) {
    const Shape& s = inputs.at(v.name).shape();
    if (!s.empty()) {
      report.batch = s[0];
      report.batch_source = "first dimension of input '" + v.name + "'";
      return;
    }
  }
}

// Refuses a --json path whose folder does not exist before the benchmark runs, not after.
void check_json_path(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
    fail(ErrorCode::kIo, "cannot write '", path, "': folder '", dir.string(), "' does not exist");
  }
}

// Bounds of the timing options: a phase longer than a day is a typo, and would overflow the
// clock's deadline arithmetic long before 1e300 seconds.
constexpr double kDaySeconds = 24 * 60 * 60;
// Each timed iteration keeps its latency (8 bytes, reserved up front with --iterations), so 10^8
// iterations are 800 MB per stream.
constexpr uint64_t kMaxIterations = 100'000'000;

void write_json(const std::string& path, const BenchReport& report) {
  std::ofstream f(path);
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
  f << report_json(report).dump(2) << "\n";
  f.close();
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& o) {
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure the latency and throughput of a model or plan, like trtexec");
  sub->add_option("model", o.model, "ONNX model (built in memory) or plan file")->required();
  sub->add_option("--backend", o.backend, "backend to build an ONNX model for (default: cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--fp16", o.fp16, "allow FP16 layers (ONNX models, GPU backends)");
  sub->add_flag("--bf16", o.bf16, "allow BF16 layers (ONNX models, GPU backends)");
  sub->add_flag("--no-tf32", o.no_tf32,
                "keep FP32 matrix work in full FP32, no TF32 (ONNX models, GPU backends)");
  sub->add_option("--layout", o.layout,
                  "activation layout around convolutions (ONNX models): auto, nchw or nhwc")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}))
      ->capture_default_str();
  add_pipeline_options(*sub, o.pipeline);
  sub->add_option("-s,--shape", o.shapes,
                  "NAME=1x3x224x224: shape of an input; the engine is built for these shapes "
                  "(repeatable)")
      ->allow_extra_args(false);
  sub->add_option("-i,--input", o.inputs, "NAME=FILE.npy: the data of one input (repeatable)")
      ->allow_extra_args(false);
  add_seed_option(*sub, o.seed);
  sub->add_option("--warmup-ms", o.warmup_ms, "untimed warm-up before each phase, milliseconds")
      ->transform(number_in(0, kDaySeconds * 1000, "a day"))
      ->capture_default_str();
  CLI::Option* duration =
      sub->add_option("--duration", o.duration_s, "seconds each timed phase runs")
          ->transform(positive_number_up_to(kDaySeconds, "a day"))
          ->capture_default_str();
  sub->add_option("--iterations", o.iterations,
                  "timed iterations per phase and stream, instead of --duration")
      ->transform(whole_number_in(1, kMaxIterations))
      ->excludes(duration);
  sub->add_option("--streams", o.streams,
                  "concurrent execution contexts, each on its own thread (and CUDA stream)")
      ->transform(whole_number_in(1, 64))
      ->capture_default_str();
  sub->add_flag("--graph", o.cuda_graph, "capture the engine in a CUDA graph and replay it");
  sub->add_option("--timing-cache", o.timing_cache,
                  "CUDA: timing cache file for building an ONNX model (reused and extended)");
  sub->add_flag("--profile", o.profile, "also time every layer and report its share");
  sub->add_option("--json", o.json, "write the whole report as JSON to this file");
  sub->footer(
      "What is measured, after --warmup-ms of untimed runs:\n"
      "  cpu:  end-to-end latency, the host clock around execute().\n"
      "  cuda: GPU compute time, CUDA events around enqueue() on device-resident inputs and\n"
      "        outputs (synchronized each iteration), with the host time of the enqueue() call;\n"
      "        then end-to-end latency around execute(), host-device copies included.\n"
      "Throughput is timed iterations of all streams over the phase's wall time, in inferences/s\n"
      "and items/s (inferences times the batch: the first dimension of the first input).\n"
      "Percentiles interpolate linearly between the closest ranks (NumPy's default).\n"
      "--profile runs a separate loop of the same length on one stream; on CUDA it launches\n"
      "without the graph and records an event between layers.\n"
      "Examples:\n"
      "  kiln bench model.onnx                                # CPU, 3 s per phase\n"
      "  kiln bench resnet50.onnx --backend cuda --fp16 --graph --shape x=64x3x224x224\n"
      "  kiln bench model.plan --iterations 1000 --streams 4 --json report.json\n"
      "  kiln bench model.onnx --profile --iterations 50");
  return sub;
}

void bench_command(const BenchOptions& o, std::ostream& out, std::ostream& err) {
  if (!o.json.empty()) check_json_path(o.json);
  std::optional<Backend> requested;
  if (!o.backend.empty()) requested = o.backend == "cuda" ? Backend::kCuda : Backend::kCpu;
  BuilderConfig config;
  config.backend = requested.value_or(Backend::kCpu);
  config.fp16 = o.fp16;
  config.bf16 = o.bf16;
  config.tf32 = !o.no_tf32;
  config.timing_cache_path = o.timing_cache;
  config.layout = parse_layout(o.layout).value_or(Layout::kAuto);  // CLI checked the name
  config.disabled_passes = disabled_pass_set(o.pipeline.disabled_passes);
  config.tactics = parse_tactics(o.pipeline.tactics);
  if (o.cuda_graph && config.backend != Backend::kCuda &&
      (requested || detect_model_format(o.model) == ModelFormat::kOnnx)) {
    fail(ErrorCode::kInvalidArgument, "--graph replays CUDA graphs; it needs --backend cuda");
  }

  BenchModel model = open_bench_model(o.model, config, requested, o.cuda_graph,
                                      RunInputOptions{o.inputs, o.shapes, o.seed}, err);
  Backend backend = model.engine->backend();

  BenchReport report;
  report.model = o.model;
  report.format = model.format == ModelFormat::kPlan ? "plan" : "onnx";
  report.backend = std::string(to_string(backend));
  report.fp16 = o.fp16;
  report.bf16 = o.bf16;
  if (model.format == ModelFormat::kOnnx) report.tf32 = config.tf32;
  report.cuda_graph = o.cuda_graph;
  report.streams = o.streams;
  report.build_s = model.build_s;
  report.load_s = model.load_s;
  for (const LayerInfo& l : model.engine->layers()) report.layers += l.on_host ? 0 : 1;
  for (const TensorDesc& v : model.engine->inputs()) {
    report.inputs.push_back({v.name, v.dtype, model.inputs.at(v.name).shape()});
  }
  set_batch(*model.engine, model.inputs, report);
  report.rule = StopRule{o.iterations, o.duration_s, o.warmup_ms};

  BenchPlan plan{*model.engine, model.inputs, report.rule, o.streams,
                 o.cuda_graph,  o.profile,    report.batch};
  if (backend == Backend::kCuda) {
    measure_cuda(plan, report);
  } else {
    measure_cpu(plan, report);
  }
  print_report(report, out);
  if (!o.json.empty()) {
    write_json(o.json, report);
    out << "\nwrote the JSON report to '" << o.json << "'\n";
  }
}

}  // namespace kiln::tools
