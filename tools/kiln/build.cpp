// `kiln build`: ONNX model -> optimized engine -> plan file.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "build_progress.hpp"
#include "commands.hpp"
#include "kiln/inspector.hpp"
#include "kiln/kiln.hpp"
#include "model_source.hpp"
#include "option_values.hpp"
#include "pipeline_options.hpp"
#include "precision_options.hpp"
#include "run_inputs.hpp"

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Above any GPU's memory, and far from the overflow of the MiB-to-bytes shift.
constexpr uint64_t kMaxWorkspaceMib = uint64_t{1} << 20;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Sends kiln's diagnostics to the tool's error stream.
class StreamLogger final : public Logger {
 public:
  explicit StreamLogger(std::ostream& os) : os_(os) {}
  void log(LogSeverity s, std::string_view message) override {
    static const char* kNames[] = {"error", "warning", "info", "verbose"};
    os_ << "[" << kNames[static_cast<int>(s)] << "] " << message << "\n";
  }

 private:
  std::ostream& os_;
};

// Routes kiln's diagnostics to the tool's error stream until the build ends, however it ends:
// warnings and errors always (a precision constraint that did not hold), everything with
// --verbose.
struct LoggerScope {
  LoggerScope(Logger* logger, bool verbose) {
    set_logger(logger, verbose ? LogSeverity::kVerbose : LogSeverity::kWarning);
  }
  ~LoggerScope() { set_logger(nullptr); }
};

std::string mebibytes(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f MiB (%llu bytes)", static_cast<double>(bytes) / (1 << 20),
                static_cast<unsigned long long>(bytes));
  return buf;
}

std::string memory_summary(const std::optional<MemoryPlanInformation>& plan) {
  if (!plan) return "no plan (activation shapes are not static); allocated per tensor";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3fx",
                plan->lower_bound_bytes ? static_cast<double>(plan->arena_bytes) /
                                              static_cast<double>(plan->lower_bound_bytes)
                                        : 1.0);
  return "arena " + mebibytes(plan->arena_bytes) + ", " + buf + " its lower bound " +
         mebibytes(plan->lower_bound_bytes) + "; all activations " + mebibytes(plan->total_bytes);
}

std::string secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f s", s);
  return buf;
}

}  // namespace

CLI::App* add_build_command(CLI::App& app, BuildOptions& o) {
  CLI::App* sub = app.add_subcommand("build",
                                     "Build an optimized engine from an ONNX model and "
                                     "save it as a plan file");
  sub->add_option("model", o.model, "ONNX model file")->required();
  sub->add_option("-o,--output", o.output, "plan file to write (default: MODEL with .plan)");
  sub->add_option("--backend", o.backend, "target backend")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  sub->add_flag("--fp16", o.fp16, "allow FP16 layers where the target supports them");
  sub->add_flag("--bf16", o.bf16, "allow BF16 layers where the target supports them");
  sub->add_option("-s,--shape", o.shapes,
                  "NAME=1x3x224x224: input shape the activation memory is planned for "
                  "(repeatable; unknown dims of inputs not named are taken as 1)");
  sub->add_flag("--no-tf32", o.no_tf32, "keep FP32 matrix work in full FP32 (no TF32) on GPUs");
  sub->add_option("--precision-constraint", o.precision_constraints,
                  "run a layer (by layer or ONNX node name) in a precision: NAME=fp32|tf32|fp16|"
                  "bf16 (repeatable)")
      ->allow_extra_args(false);
  sub->add_flag("--strict-types", o.strict_types,
                "fail the build when a precision constraint cannot hold (default: warn)");
  sub->add_option("--timing-cache", o.timing_cache,
                  "CUDA: timing cache file; tactics it already timed on this GPU are reused, new "
                  "ones are added (created if missing)");
  sub->add_option("--workspace-limit", o.workspace_limit_mib,
                  "CUDA: most scratch memory (MiB) one layer's tactic may use (default 1024)")
      ->transform(whole_number_in(1, kMaxWorkspaceMib, "1 TiB"));
  sub->add_option("--layout", o.layout,
                  "activation layout around convolutions: auto (CUDA: nhwc; CPU: nhwc only where "
                  "it removes transposes), nchw or nhwc")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}))
      ->capture_default_str();
  sub->add_option("--opt-level", o.opt_level,
                  "0: no graph optimization; 1-2: every pass, GPU layers take their first "
                  "applicable tactic (fast builds); 3: also time each GPU layer's tactics")
      ->transform(whole_number_in(0, 3))
      ->capture_default_str();
  add_pipeline_options(*sub, o.pipeline);
  sub->add_flag("-v,--verbose", o.verbose, "print builder diagnostics and the built graph");
  sub->footer(
      "Examples:\n"
      "  kiln build resnet50.onnx -o resnet50.plan\n"
      "  kiln build bert.onnx -o bert_fp16.plan --backend cuda --fp16\n"
      "  kiln build resnet50.onnx --backend cuda --timing-cache gpu.cache  # rebuilds time "
      "nothing\n"
      "  kiln build model.onnx --verbose        # writes model.plan, prints every layer\n"
      "  kiln build bert.onnx -s input_ids=8x128 -s attention_mask=8x128\n"
      "  kiln build model.onnx --fp16 --precision-constraint softmax_0=fp32 "
      "--precision-constraint head=fp32\n"
      "  kiln build vit.onnx --backend cuda --fp16 --tactic ScaledDotProductAttention=gemm "
      "--disable-pass fuse_rearrange_chains");
  return sub;
}

void build_command(const BuildOptions& o, std::ostream& out, std::ostream& err) {
  if (detect_model_format(o.model) == ModelFormat::kPlan) {
    fail(ErrorCode::kInvalidArgument, "'", o.model,
         "' is already a kiln plan; build takes an ONNX model");
  }
  std::string output = o.output;
  if (output.empty()) output = std::filesystem::path(o.model).replace_extension(".plan").string();

  StreamLogger logger(err);
  LoggerScope scope(&logger, o.verbose);

  BuilderConfig config;
  config.backend = o.backend == "cuda" ? Backend::kCuda : Backend::kCpu;
  config.fp16 = o.fp16;
  config.bf16 = o.bf16;
  for (const std::string& arg : o.shapes) {
    auto [name, dims] = split_assignment(arg, "--shape");
    config.input_shapes[name] = parse_dims(dims, "--shape " + name);
  }
  config.tf32 = !o.no_tf32;
  config.layer_precisions = parse_precision_constraints(o.precision_constraints);
  config.strict_types = o.strict_types;
  config.timing_cache_path = o.timing_cache;
  if (o.workspace_limit_mib) config.workspace_limit = size_t{o.workspace_limit_mib} << 20;
  config.layout = parse_layout(o.layout).value_or(Layout::kAuto);  // CLI checked the name
  config.optimization_level = o.opt_level;
  config.disabled_passes = disabled_pass_set(o.pipeline.disabled_passes);
  config.tactics = parse_tactics(o.pipeline.tactics);
  if (!o.verbose) config.progress = terminal_progress(err);  // verbose logs would break the line

  auto start = Clock::now();
  Network network = parse_onnx_file(o.model);
  double import_s = seconds_since(start);
  auto t = Clock::now();
  std::unique_ptr<Engine> engine = build_engine(network, config);
  double build_s = seconds_since(t);
  t = Clock::now();
  engine->save(output);
  double save_s = seconds_since(t);

  if (o.verbose) out << format_layers(*engine);
  out << "built '" << output << "' from '" << o.model << "' for the " << to_string(config.backend)
      << " backend\n"
      << "  layers:  " << engine->layers().size() << "\n"
      << "  inputs:  " << engine->inputs().size() << ", outputs: " << engine->outputs().size()
      << "\n"
      << "  plan:    " << mebibytes(std::filesystem::file_size(output)) << "\n"
      << "  memory:  " << memory_summary(inspect_engine(*engine).memory) << "\n"
      << "  time:    " << secs(seconds_since(start)) << " (import " << secs(import_s) << ", build "
      << secs(build_s) << ", save " << secs(save_s) << ")\n";
}

}  // namespace kiln::tools
