// `kiln compare --layerwise`: which tensors to mark as outputs in both runners (every
// intermediate float tensor computed from the inputs), and the walk in topological order that
// finds the first one beyond tolerance: where the runners start to disagree.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compare_metrics.hpp"
#include "compare_runners.hpp"
#include "kiln/inspector.hpp"

namespace kiln::tools {

// Float tensors made by the network's layers that depend on a network input (constants and
// weight-only subgraphs are left out: the builder folds them), in topological order. Network
// outputs are included where they fall in that order.
std::vector<ExtraTensor> intermediate_tensors(const EngineInformation& network);

struct LayerwiseTensor {
  TensorComparison comparison;
  std::string producer;  // "node 'conv1' (Conv)"
};

struct LayerwiseReport {
  std::vector<LayerwiseTensor> tensors;  // compared, in topological order
  int first_failing = -1;                // index into `tensors`, -1 when every tensor matches
  int failing = 0;
  std::vector<std::string> missing;  // tensors one runner did not produce (fused away, renamed)
};

LayerwiseReport compare_layerwise(const EngineInformation& network,
                                  const std::vector<ExtraTensor>& tensors,
                                  const std::map<std::string, Tensor>& tested,
                                  const std::map<std::string, Tensor>& reference,
                                  const Tolerance& tol);

}  // namespace kiln::tools
