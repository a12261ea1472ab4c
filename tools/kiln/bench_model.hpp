// Opening a model for `kiln bench`: an ONNX model is specialized to the benchmark's input shapes
// and built (CUDA engines need every shape static); a plan is loaded as built. Either way the
// inputs are drawn the way `kiln run` draws them.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "kiln/kiln.hpp"
#include "model_source.hpp"
#include "run_inputs.hpp"

namespace kiln::tools {

struct BenchModel {
  std::unique_ptr<Engine> engine;
  std::map<std::string, Tensor> inputs;
  ModelFormat format = ModelFormat::kOnnx;
  std::optional<double> build_s;  // ONNX models: import and build time
  std::optional<double> load_s;   // plans: Engine::load time
};

// `config` applies to ONNX models. For a plan, `backend_requested` (if set) must be the plan's
// backend and no precision flag may be set: a plan is already built; `cuda_graph` needs a CUDA
// plan. Both are checked before any input is drawn.
BenchModel open_bench_model(const std::string& path, const BuilderConfig& config,
                            std::optional<Backend> backend_requested, bool cuda_graph,
                            const RunInputOptions& input_opts, std::ostream& notes);

}  // namespace kiln::tools
