// `kiln compare --bisect-precision`: for an FP16/BF16 kiln build that misses the tolerance, find a
// small set of layers to pin to FP32 (per-layer precision constraints) so that it meets it.
// Layers are ranked by how much error each adds (its output's error against an FP32 build minus
// its inputs' error), the shortest passing prefix of that ranking is found by binary search, then
// layers of it that are not needed are dropped one by one, all within a budget of builds.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "compare_metrics.hpp"
#include "compare_runners.hpp"

namespace kiln::tools {

struct BisectRequest {
  const CompareModel* model = nullptr;
  RunnerSpec tested;  // a kiln runner with fp16 or bf16
  std::map<std::string, Tensor> inputs;
  std::map<std::string, Tensor> reference;  // the reference runner's graph outputs
  Tolerance tol;
  int max_builds = 32;
};

struct RankedLayer {
  std::string name;
  std::string op;
  double output_error = -1;  // relative L2 error of its output vs FP32; -1: not measurable
  double added_error = -1;   // output error minus the largest input error
};

struct BisectResult {
  bool already_passes = false;  // the reduced build meets the tolerance as it is
  bool found = false;           // `fp32_layers` makes it meet the tolerance
  bool minimal = false;         // every layer of the set was tried without and is needed
  int reduced_layers = 0;       // layers the build runs in FP16/BF16 (reformat casts aside)
  std::vector<RankedLayer> ranking;
  std::vector<std::string> fp32_layers;   // in ranking order
  std::vector<TensorComparison> outputs;  // with `fp32_layers` pinned (or as built)
  int builds = 0;
  std::string note;  // why no set was found, or why the search stopped early
};

// Logs one line per build to `log`.
BisectResult bisect_precision(const BisectRequest& request, std::ostream& log);

// "kiln build MODEL --fp16 --precision-constraint A=fp32 ...", names quoted for the shell.
std::string reproduce_build_command(const std::string& model, const RunnerSpec& tested,
                                    const std::vector<std::string>& fp32_layers);

}  // namespace kiln::tools
