// `kiln run`: run a plan or an ONNX model (built in memory for the CPU) on given or random inputs,
// summarize every output and optionally save it as .npy.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "commands.hpp"
#include "kiln/error.hpp"
#include "kiln/kiln.hpp"
#include "model_source.hpp"
#include "npy.hpp"
#include "option_values.hpp"
#include "run_inputs.hpp"
#include "tensor_summary.hpp"

namespace kiln::tools {
namespace {

std::string milliseconds(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f ms", ms);
  return buf;
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* sub = app.add_subcommand(
      "run", "Run a plan or an ONNX model on inputs from .npy files or random inputs");
  sub->add_option("model", o.model, "plan file or ONNX model")->required();
  sub->add_option("-i,--input", o.inputs, "NAME=FILE.npy: the data of one input (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("-s,--shape", o.shapes, "NAME=1x3x224x224: shape of a random input (repeatable)")
      ->allow_extra_args(false);
  sub->add_option("-d,--output-dir", o.output_dir, "write each output to DIR/<name>.npy");
  add_seed_option(*sub, o.seed);
  sub->footer(
      "Inputs not given with --input are random: floats uniform in [-1, 1], integers in [0, 3],\n"
      "bools fair coin flips. Dimensions not fixed by the model come from --shape or from other\n"
      "inputs that share the dimension's name, else they are 1.\n"
      "Examples:\n"
      "  kiln run model.plan                                   # random inputs, summary only\n"
      "  kiln run model.onnx --shape input=8x3x224x224 --seed 3\n"
      "  kiln run model.plan --input x=x.npy --input mask=mask.npy --output-dir out");
  return sub;
}

void run_command(const RunOptions& o, std::ostream& out, std::ostream& err) {
  using Clock = std::chrono::steady_clock;
  ModelFormat format = detect_model_format(o.model);
  auto t = Clock::now();
  std::unique_ptr<Engine> engine = load_engine(o.model, BuilderConfig{});
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  out << "model  " << o.model << " ("
      << (format == ModelFormat::kPlan ? "plan" : "ONNX, built in memory") << ", "
      << to_string(engine->backend()) << ", " << engine->layers().size() << " layers, loaded in "
      << milliseconds(load_ms) << ")\n";

  RunInputOptions input_opts{o.inputs, o.shapes, o.seed};
  std::map<std::string, Tensor> inputs = prepare_inputs(engine->inputs(), input_opts, out, err);

  std::unique_ptr<ExecutionContext> context = engine->create_execution_context();
  t = Clock::now();
  std::vector<Tensor> outputs = context->execute(inputs);
  double run_ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  out << "ran in " << milliseconds(run_ms) << "\n";

  if (!o.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.output_dir, ec);
    if (ec) {
      fail(ErrorCode::kIo, "cannot create output directory '", o.output_dir, "': ", ec.message());
    }
  }
  std::set<std::string> used_files;
  const std::vector<TensorDesc>& descs = engine->outputs();
  for (size_t i = 0; i < outputs.size() && i < descs.size(); ++i) {
    out << "output " << descs[i].name << ": " << describe(outputs[i]) << "\n";
    if (o.output_dir.empty()) continue;
    // Distinct tensor names can sanitize to one file name; number the later ones.
    std::string base = sanitize_file_name(descs[i].name);
    std::string file = base;
    for (int k = 2; !used_files.insert(file).second; ++k) file = cat(base, "_", k);
    std::string path = (std::filesystem::path(o.output_dir) / (file + ".npy")).string();
    write_npy(path, outputs[i]);
    out << "       -> " << path << "\n";
  }
}

}  // namespace kiln::tools
