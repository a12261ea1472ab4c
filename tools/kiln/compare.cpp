// `kiln compare`: run the same inputs through two runners (kiln on the CPU or a GPU at some
// precision, ONNX Runtime, or saved outputs) and check every output against tolerances, like
// Polygraphy's `run`; optionally tensor by tensor (--layerwise) or searching the layers an
// FP16/BF16 build must keep in FP32 (--bisect-precision).
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "commands.hpp"
#include "compare_bisect.hpp"
#include "compare_layerwise.hpp"
#include "compare_report.hpp"
#include "compare_runners.hpp"
#include "kiln/error.hpp"
#include "kiln/inspector.hpp"
#include "model_source.hpp"
#include "npy.hpp"
#include "option_values.hpp"
#include "precision_options.hpp"
#include "run_inputs.hpp"
#include "tensor_summary.hpp"

namespace kiln::tools {
namespace {

struct Setup {
  RunnerSpec tested;
  RunnerSpec reference;
  Tolerance tol;
  bool default_tol = true;
};

// Checks every option before any work, so a typo fails in a moment, not after a build.
Setup resolve_options(const CompareOptions& o) {
  if (detect_model_format(o.model) == ModelFormat::kPlan) {
    fail(ErrorCode::kInvalidArgument, "'", o.model,
         "' is a kiln plan; compare takes the ONNX model (both runners start from it)");
  }
  std::string list = o.runners;
  if (list.empty()) list = o.reference_dir.empty() ? "kiln-cpu,ort" : "kiln-cpu";
  std::vector<RunnerSpec> specs = parse_runners(list, o.python);
  Setup s;
  if (o.reference_dir.empty()) {
    if (specs.size() != 2) {
      fail(ErrorCode::kInvalidArgument, "--runners names ", specs.size(),
           " runner(s); give two, the one to test and the reference (e.g. kiln-cpu,ort), or one "
           "with --reference DIR");
    }
    s.reference = specs[1];
  } else {
    if (specs.size() != 1) {
      fail(ErrorCode::kInvalidArgument,
           "with --reference DIR the outputs are the reference; --runners names one runner to "
           "test, not ",
           specs.size());
    }
    s.reference.kind = RunnerKind::kFiles;
    s.reference.reference_dir = o.reference_dir;
  }
  s.tested = specs[0];
  bool precision_options = o.fp16 || o.bf16 || o.no_tf32 || !o.precision_constraints.empty();
  if (precision_options && !s.tested.is_kiln()) {
    fail(ErrorCode::kInvalidArgument,
         "--fp16, --bf16, --no-tf32 and --precision-constraint set how the first runner builds; "
         "it is '",
         s.tested.label(), "', not a kiln runner");
  }
  if (o.fp16 && o.bf16) {
    fail(ErrorCode::kInvalidArgument, "give --fp16 or --bf16, not both");
  }
  s.tested.config.fp16 = o.fp16;
  s.tested.config.bf16 = o.bf16;
  s.tested.config.tf32 = !o.no_tf32;
  s.tested.config.layer_precisions = parse_precision_constraints(o.precision_constraints);
  if (o.bisect_precision && !(o.fp16 || o.bf16)) {
    fail(ErrorCode::kInvalidArgument,
         "--bisect-precision searches the layers an FP16/BF16 build keeps in FP32; add --fp16 "
         "or --bf16");
  }
  check_runner_available(s.tested);
  check_runner_available(s.reference);

  s.tol = default_tolerance(s.tested.precision());
  if (o.atol >= 0) s.tol.atol = o.atol;
  if (o.rtol >= 0) s.tol.rtol = o.rtol;
  s.default_tol = o.atol < 0 && o.rtol < 0;
  if (!o.json.empty()) {
    std::filesystem::path dir = std::filesystem::path(o.json).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) {
      fail(ErrorCode::kIo, "cannot write '", o.json, "': folder '", dir.string(),
           "' does not exist");
    }
  }
  return s;
}

// "kiln-cpu" etc.: the folder a runner's tensors are saved in.
std::string runner_folder(const RunnerSpec& spec) {
  switch (spec.kind) {
    case RunnerKind::kKilnCpu:
      return "kiln-cpu";
    case RunnerKind::kKilnCuda:
      return "kiln-cuda";
    case RunnerKind::kOrt:
      return "ort";
    case RunnerKind::kFiles:
      return "reference";
  }
  return "runner";
}

void save_tensors(const std::string& dir, const std::map<std::string, Tensor>& tensors) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ErrorCode::kIo, "cannot create '", dir, "': ", ec.message());
  for (const auto& [name, t] : tensors) {
    write_npy((std::filesystem::path(dir) / (sanitize_file_name(name) + ".npy")).string(), t);
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
  f << j.dump(2) << "\n";
  f.close();
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
}

std::string bisect_text(const BisectResult& b, const CompareOptions& o, const Setup& s) {
  std::string out = "\nprecision bisection (" + std::to_string(b.builds) + " builds):\n";
  if (b.already_passes) {
    return out + "  the build meets the tolerance as it is; no layer needs FP32\n";
  }
  if (!b.ranking.empty()) {
    std::vector<std::string> lines;
    out += cat("  ", b.reduced_layers, " layers run in ", to_string(s.tested.precision()),
               "; the ones adding the most error (relative L2 error against FP32):\n");
    for (size_t i = 0; i < b.ranking.size() && i < 8; ++i) {
      const RankedLayer& r = b.ranking[i];
      out += cat(
          "  ", i + 1, ". ", r.name, " (", r.op, ")  adds ",
          r.added_error < 0 ? std::string("?") : format_error(r.added_error), ", output error ",
          r.output_error < 0 ? std::string("not measurable") : format_error(r.output_error), "\n");
    }
  }
  if (!b.found) return out + "  no set found: " + b.note + "\n";
  out += cat("  keep in FP32 (", b.fp32_layers.size(), " of ", b.reduced_layers, " layers):");
  for (const std::string& l : b.fp32_layers) out += " " + l;
  out += "\n";
  if (!b.note.empty()) out += "  note: " + b.note + "\n";
  out += "  with them in FP32:\n" + outputs_table(b.outputs);
  out += "  reproduce: " + reproduce_build_command(o.model, s.tested, b.fp32_layers) + "\n";
  return out;
}

}  // namespace

CLI::App* add_compare_command(CLI::App& app, CompareOptions& o) {
  CLI::App* sub = app.add_subcommand(
      "compare",
      "Run a model through two runners on the same inputs and check that the outputs match");
  sub->add_option("model", o.model, "ONNX model")->required();
  sub->add_option("--runners", o.runners,
                  "RUNNER,REFERENCE: the runner to test, then the reference; runners: kiln-cpu, "
                  "kiln-cuda, ort (default: kiln-cpu,ort; kiln-cpu with --reference)");
  sub->add_option("--reference", o.reference_dir,
                  "folder of NAME.npy reference outputs (as --save-outputs or 'kiln run "
                  "--output-dir' write them) instead of a reference runner");
  sub->add_option("--python", o.python, "Python with onnxruntime, for the ort runner")
      ->capture_default_str();
  sub->add_flag("--fp16", o.fp16, "build the first (kiln) runner with FP16 layers allowed");
  sub->add_flag("--bf16", o.bf16, "build the first (kiln) runner with BF16 layers allowed");
  sub->add_flag("--no-tf32", o.no_tf32, "first runner on a GPU: no TF32 for FP32 matrix work");
  sub->add_option("--precision-constraint", o.precision_constraints,
                  "first runner: run a layer (by layer or ONNX node name) in a precision, "
                  "NAME=fp32|tf32|fp16|bf16 (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("-i,--input", o.inputs, "NAME=FILE.npy: the data of one input (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("-s,--shape", o.shapes, "NAME=1x3x224x224: shape of a random input (repeatable)")
      ->allow_extra_args(false);
  add_seed_option(*sub, o.seed);
  sub->add_option("--atol", o.atol, "absolute tolerance (default: by precision, see below)")
      ->transform(number_in(0, std::numeric_limits<double>::infinity()));
  sub->add_option("--rtol", o.rtol, "relative tolerance (default: by precision, see below)")
      ->transform(number_in(0, std::numeric_limits<double>::infinity()));
  sub->add_flag("--layerwise", o.layerwise,
                "mark every intermediate tensor as an output in both runners and report the "
                "first one beyond tolerance");
  sub->add_flag("--bisect-precision", o.bisect_precision,
                "with --fp16/--bf16: find a small set of layers to keep in FP32 so that the "
                "outputs meet the tolerance");
  sub->add_option("--max-builds", o.max_builds, "most builds --bisect-precision may make")
      ->transform(whole_number_in(3, 10000))
      ->capture_default_str();
  sub->add_option("--save-outputs", o.save_outputs,
                  "write each runner's tensors to DIR/<runner>/<tensor>.npy");
  sub->add_option("--json", o.json, "write the results as JSON to this file");
  sub->footer(
      "Both runners get the same inputs: from --input files, else random (floats uniform in\n"
      "[-1, 1], integers in [0, 3]; symbolic dimensions from --shape, else 1). An output element\n"
      "passes when |a - ref| <= atol or |a - ref| / max(|ref|, atol) <= rtol (NaN matches NaN, an\n"
      "Inf the same Inf); an output passes when every element does and dtype and shape agree.\n"
      "Default tolerances follow what the first runner computes in: fp32 1e-5 (atol and rtol),\n"
      "tf32 (kiln-cuda without --no-tf32) 1e-3, fp16 1e-2, bf16 5e-2. The reference runner\n"
      "builds in full FP32 (no TF32). ort runs the onnxruntime Python package on the CPU.\n"
      "Exit code: 0 when every output passes (with --bisect-precision: when a set of FP32\n"
      "layers making it pass was found), 1 when one fails or on error, 2 on a usage error.\n"
      "Examples:\n"
      "  kiln compare model.onnx                                # kiln-cpu against ONNX Runtime\n"
      "  kiln compare model.onnx --runners kiln-cuda,kiln-cpu --fp16 --shape x=8x3x224x224\n"
      "  kiln compare model.onnx --layerwise                    # where do they start to differ?\n"
      "  kiln compare model.onnx --fp16 --atol 1e-3 --rtol 1e-3 --bisect-precision\n"
      "  kiln compare model.onnx --input x=x.npy --save-outputs ref   # keep both runners' "
      "outputs\n"
      "  kiln compare model.onnx --reference ref/ort --input x=x.npy --json result.json");
  return sub;
}

void compare_command(const CompareOptions& o, std::ostream& out, std::ostream& err) {
  Setup s = resolve_options(o);
  CompareModel model{o.model, parse_onnx_file(o.model)};
  out << "model      " << o.model << "\n";
  RunInputOptions input_opts{o.inputs, o.shapes, o.seed};
  std::ostringstream input_log;
  std::map<std::string, Tensor> inputs =
      prepare_inputs(model.network.inputs(), input_opts, input_log, err);
  // Aligned with the lines below: "input  x: ..." becomes "input      x: ...".
  std::istringstream lines(input_log.str());
  for (std::string line; std::getline(lines, line);) {
    out << (line.starts_with("input  ") ? "input      " + line.substr(7) : line) << "\n";
  }
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes.emplace(name, t.shape());
  model.network.set_input_shapes(shapes);
  EngineInformation network = inspect_network(model.network);
  std::vector<ExtraTensor> extra;
  if (o.layerwise) extra = intermediate_tensors(network);

  RunnerResult a = run_runner(s.tested, model, inputs, extra);
  out << "runner     " << s.tested.label() << ": " << a.detail << "\n";
  RunnerResult b = run_runner(s.reference, model, inputs, extra);
  out << "reference  " << s.reference.label() << ": " << b.detail << "\n";
  if (!o.save_outputs.empty()) {
    save_tensors((std::filesystem::path(o.save_outputs) / runner_folder(s.tested)).string(),
                 a.tensors);
    if (s.reference.kind != RunnerKind::kFiles) {
      save_tensors((std::filesystem::path(o.save_outputs) / runner_folder(s.reference)).string(),
                   b.tensors);
    }
    out << "saved      the tensors of each runner under '" << o.save_outputs << "'\n";
  }
  out << "tolerance  atol " << number(s.tol.atol) << ", rtol " << number(s.tol.rtol)
      << (s.default_tol ? cat(" (default for ", to_string(s.tested.precision()), ")") : "")
      << "\n\n";

  std::vector<TensorComparison> outputs;
  for (const TensorDesc& v : network.outputs) {
    auto x = a.tensors.find(v.name);
    auto r = b.tensors.find(v.name);
    if (x == a.tensors.end() || r == b.tensors.end()) {
      outputs.push_back(missing_tensor(
          v.name,
          cat("missing from ", x == a.tensors.end() ? s.tested.label() : s.reference.label())));
    } else {
      outputs.push_back(compare_tensors(v.name, x->second, r->second, s.tol));
    }
  }
  out << outputs_table(outputs);
  int failing = 0;
  for (const TensorComparison& c : outputs) failing += c.passed ? 0 : 1;

  nlohmann::json j;
  j["model"] = o.model;
  j["runner"] = s.tested.label();
  j["reference"] = s.reference.label();
  j["atol"] = s.tol.atol;
  j["rtol"] = s.tol.rtol;
  j["outputs"] = nlohmann::json::array();
  for (const TensorComparison& c : outputs) j["outputs"].push_back(comparison_json(c));
  j["passed"] = failing == 0;

  if (o.layerwise) {
    LayerwiseReport lw = compare_layerwise(network, extra, a.tensors, b.tensors, s.tol);
    out << "\n" << layerwise_table(lw);
    nlohmann::json l;
    l["tensors"] = nlohmann::json::array();
    for (const LayerwiseTensor& t : lw.tensors) {
      nlohmann::json row = comparison_json(t.comparison);
      row["producer"] = t.producer;
      l["tensors"].push_back(row);
    }
    l["first_failing"] = lw.first_failing < 0
                             ? nlohmann::json()
                             : nlohmann::json(lw.tensors[size_t(lw.first_failing)].comparison.name);
    l["not_compared"] = lw.missing;
    j["layerwise"] = l;
  }

  bool passed = failing == 0;
  if (o.bisect_precision) {
    BisectRequest req;
    req.model = &model;
    req.tested = s.tested;
    req.inputs = inputs;
    req.reference = b.tensors;
    req.tol = s.tol;
    req.max_builds = o.max_builds;
    out << "\n";
    BisectResult bis = bisect_precision(req, out);
    out << bisect_text(bis, o, s);
    nlohmann::json bj;
    bj["found"] = bis.found;
    bj["already_passes"] = bis.already_passes;
    bj["minimal"] = bis.minimal;
    bj["builds"] = bis.builds;
    bj["fp32_layers"] = bis.fp32_layers;
    bj["outputs"] = nlohmann::json::array();
    for (const TensorComparison& c : bis.outputs) bj["outputs"].push_back(comparison_json(c));
    if (bis.found && !bis.already_passes) {
      bj["build_command"] = reproduce_build_command(o.model, s.tested, bis.fp32_layers);
    }
    if (!bis.note.empty()) bj["note"] = bis.note;
    j["bisect_precision"] = bj;
    passed = bis.found;
    if (!bis.found) failing = std::max(failing, 1);
  }
  if (!o.json.empty()) write_json(o.json, j);
  if (!passed) {
    if (o.bisect_precision) {
      fail(ErrorCode::kInvalidArgument,
           "precision bisection found no set of FP32 layers that meets the tolerance");
    }
    fail(ErrorCode::kInvalidArgument, failing, " of ", outputs.size(), " output(s) of ",
         s.tested.label(), " differ from ", s.reference.label(), " beyond atol ",
         number(s.tol.atol), ", rtol ", number(s.tol.rtol));
  }
  out << "\nPASSED: " << (o.bisect_precision && failing ? "with the FP32 layers above, " : "")
      << "every output of " << s.tested.label() << " matches " << s.reference.label() << "\n";
}

}  // namespace kiln::tools
