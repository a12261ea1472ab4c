// The runners `kiln compare` puts side by side: kiln on the CPU or a GPU at a chosen precision,
// ONNX Runtime (compare_ort.hpp), or reference outputs saved as .npy files. Each runs the same
// inputs and returns the graph outputs plus any intermediate tensors asked for (--layerwise).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::tools {

enum class RunnerKind { kKilnCpu, kKilnCuda, kOrt, kFiles };

struct RunnerSpec {
  RunnerKind kind = RunnerKind::kKilnCpu;
  BuilderConfig config;       // kiln runners: backend, precision flags and constraints
  std::string python;         // ort: the interpreter with onnxruntime installed
  std::string reference_dir;  // files: NAME.npy per tensor

  bool is_kiln() const { return kind == RunnerKind::kKilnCpu || kind == RunnerKind::kKilnCuda; }
  // What the runner computes in: FP16/BF16 when allowed, TF32 for GPU matrix work, else FP32.
  Precision precision() const;
  // "kiln-cpu (fp16)", "ort", "files 'DIR'": how tables and messages name the runner.
  std::string label() const;
};

// Parses "kiln-cpu,ort": every name known (kiln-cpu, kiln-cuda, ort), none twice. Kiln runners
// get a default FP32 configuration without TF32 (a reference must be exact); the caller applies
// the precision options to the runner under test.
std::vector<RunnerSpec> parse_runners(const std::string& list, const std::string& python);

// Fails with a clear message when a runner cannot run on this machine or build: kiln-cuda
// without a GPU or without the CUDA backend compiled in. Checked before any work starts.
void check_runner_available(const RunnerSpec& spec);

// A tensor to return besides the graph outputs, with its type (ONNX Runtime needs it).
struct ExtraTensor {
  std::string name;
  DataType dtype = DataType::kFloat32;
};

// The model as `kiln compare` holds it: the imported network with input shapes fixed to the
// inputs of this comparison; kiln runners build copies of it, so it is parsed once.
struct CompareModel {
  std::string path;
  Network network;
};

struct RunnerResult {
  std::map<std::string, Tensor> tensors;  // graph outputs and extra tensors, by name
  std::vector<LayerInfo> layers;          // kiln runners: the engine's layers
  std::string detail;                     // "12 layers, built in 0.041 s, ran in 1.3 ms"
};

// Builds `model` with `config` (marking `extra` tensors as outputs too) and runs it on `inputs`.
RunnerResult run_kiln(const CompareModel& model, const BuilderConfig& config,
                      const std::map<std::string, Tensor>& inputs,
                      const std::vector<ExtraTensor>& extra);

// Runs any runner. For the files runner, each graph output and extra tensor is read from
// DIR/<name>.npy (name sanitized as `kiln run --output-dir` writes it); a missing extra tensor is
// left out, a missing graph output is an error naming the file.
RunnerResult run_runner(const RunnerSpec& spec, const CompareModel& model,
                        const std::map<std::string, Tensor>& inputs,
                        const std::vector<ExtraTensor>& extra);

}  // namespace kiln::tools
