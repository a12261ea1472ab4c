// Runner parsing and the kiln and file runners of `kiln compare`.
#include "compare_runners.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "compare_ort.hpp"
#include "kiln/error.hpp"
#include "npy.hpp"
#include "tensor_summary.hpp"

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fixed(double v, const char* unit, int digits = 3) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f %s", digits, v, unit);
  return buf;
}

RunnerResult run_files(const RunnerSpec& spec, const CompareModel& model,
                       const std::vector<ExtraTensor>& extra) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(spec.reference_dir)) {
    fail(ErrorCode::kIo, "--reference '", spec.reference_dir, "' is not a directory");
  }
  auto file_of = [&](const std::string& name) {
    return (fs::path(spec.reference_dir) / (sanitize_file_name(name) + ".npy")).string();
  };
  RunnerResult r;
  std::vector<TensorDesc> outputs = model.network.outputs();
  for (const TensorDesc& v : outputs) {
    std::string file = file_of(v.name);
    if (!fs::exists(file)) {
      fail(ErrorCode::kIo, "--reference '", spec.reference_dir, "' has no file for output '",
           v.name, "' (expected '", file, "')");
    }
    r.tensors.emplace(v.name, read_npy(file));
  }
  int found = 0;
  for (const ExtraTensor& e : extra) {
    std::string file = file_of(e.name);
    if (r.tensors.count(e.name) || !fs::exists(file)) continue;
    r.tensors.emplace(e.name, read_npy(file));
    ++found;
  }
  r.detail = cat(outputs.size(), " outputs");
  if (!extra.empty()) r.detail += cat(", ", found, " of ", extra.size(), " intermediate tensors");
  r.detail += " read from .npy files";
  return r;
}

}  // namespace

Precision RunnerSpec::precision() const {
  if (!is_kiln()) return Precision::kFloat32;
  if (config.fp16) return Precision::kFloat16;
  if (config.bf16) return Precision::kBFloat16;
  if (kind == RunnerKind::kKilnCuda && config.tf32) return Precision::kTf32;
  return Precision::kFloat32;
}

std::string RunnerSpec::label() const {
  switch (kind) {
    case RunnerKind::kKilnCpu:
    case RunnerKind::kKilnCuda: {
      std::string s = kind == RunnerKind::kKilnCpu ? "kiln-cpu (" : "kiln-cuda (";
      s += std::string(to_string(precision()));
      if (!config.layer_precisions.empty()) {
        s += cat(", ", config.layer_precisions.size(), " constraint",
                 config.layer_precisions.size() == 1 ? "" : "s");
      }
      return s + ")";
    }
    case RunnerKind::kOrt:
      return "ort";
    case RunnerKind::kFiles:
      return "files '" + reference_dir + "'";
  }
  return "";
}

std::vector<RunnerSpec> parse_runners(const std::string& list, const std::string& python) {
  std::vector<RunnerSpec> out;
  std::set<std::string> seen;
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    RunnerSpec spec;
    spec.config.tf32 = false;
    if (name == "kiln-cpu") {
      spec.kind = RunnerKind::kKilnCpu;
    } else if (name == "kiln-cuda") {
      spec.kind = RunnerKind::kKilnCuda;
      spec.config.backend = Backend::kCuda;
    } else if (name == "ort" || name == "onnxruntime") {
      spec.kind = RunnerKind::kOrt;
      spec.python = python;
      name = "ort";
    } else {
      fail(ErrorCode::kInvalidArgument, "--runners: unknown runner '", name,
           "'; the runners are kiln-cpu, kiln-cuda and ort");
    }
    if (!seen.insert(name).second) {
      fail(ErrorCode::kInvalidArgument, "--runners names '", name, "' twice");
    }
    out.push_back(std::move(spec));
  }
  if (out.empty()) {
    fail(ErrorCode::kInvalidArgument, "--runners is empty; give e.g. --runners kiln-cpu,ort");
  }
  return out;
}

void check_runner_available(const RunnerSpec& spec) {
  if (spec.kind != RunnerKind::kKilnCuda) return;
  if (!backend_built(Backend::kCuda)) {
    fail(ErrorCode::kUnsupported,
         "runner kiln-cuda: this kiln build has no CUDA backend (it was built without the CUDA "
         "toolkit)");
  }
  if (!backend_available(Backend::kCuda)) {
    fail(ErrorCode::kUnsupported,
         "runner kiln-cuda: no CUDA device is available on this machine; compare on the CPU "
         "with --runners kiln-cpu,ort");
  }
}

RunnerResult run_kiln(const CompareModel& model, const BuilderConfig& config,
                      const std::map<std::string, Tensor>& inputs,
                      const std::vector<ExtraTensor>& extra) {
  Network network = model.network.clone();
  if (!extra.empty()) {
    // Tensors the network has that are neither an input nor an output already.
    std::set<std::string> markable;
    for (const TensorDesc& t : network.tensors()) markable.insert(t.name);
    for (const TensorDesc& t : network.inputs()) markable.erase(t.name);
    for (const TensorDesc& t : network.outputs()) markable.erase(t.name);
    for (const ExtraTensor& e : extra) {
      if (markable.erase(e.name)) network.mark_output(e.name);
    }
  }
  BuilderConfig built_for = config;
  for (const auto& [name, t] : inputs) built_for.input_shapes[name] = t.shape();

  auto start = Clock::now();
  std::unique_ptr<Engine> engine = build_engine(network, built_for);
  double build_s = seconds_since(start);
  std::unique_ptr<ExecutionContext> context = engine->create_execution_context();
  start = Clock::now();
  std::vector<Tensor> outputs = context->execute(inputs);
  double run_s = seconds_since(start);

  RunnerResult r;
  const std::vector<TensorDesc>& descs = engine->outputs();
  for (size_t i = 0; i < outputs.size() && i < descs.size(); ++i) {
    r.tensors.emplace(descs[i].name, std::move(outputs[i]));
  }
  r.layers = engine->layers();
  r.detail = cat(r.layers.size(), " layers, built in ", fixed(build_s, "s"), ", first run in ",
                 fixed(run_s * 1e3, "ms"));
  return r;
}

RunnerResult run_runner(const RunnerSpec& spec, const CompareModel& model,
                        const std::map<std::string, Tensor>& inputs,
                        const std::vector<ExtraTensor>& extra) {
  switch (spec.kind) {
    case RunnerKind::kKilnCpu:
    case RunnerKind::kKilnCuda:
      return run_kiln(model, spec.config, inputs, extra);
    case RunnerKind::kOrt:
      return run_onnxruntime(spec.python, model, inputs, extra);
    case RunnerKind::kFiles:
      return run_files(spec, model, extra);
  }
  fail(ErrorCode::kInternal, "unknown runner");
}

}  // namespace kiln::tools
