// Layerwise comparison: choosing the tensors and walking them in topological order.
#include "compare_layerwise.hpp"

#include <unordered_map>
#include <unordered_set>

#include "model_source.hpp"

namespace kiln::tools {

std::vector<ExtraTensor> intermediate_tensors(const EngineInformation& network) {
  std::unordered_set<std::string> dynamic;
  for (const TensorDesc& t : network.inputs) dynamic.insert(t.name);
  std::vector<ExtraTensor> out;
  for (const LayerInformation& l : network.layers) {
    bool from_input = false;
    for (const TensorDesc& t : l.inputs) from_input = from_input || dynamic.count(t.name) > 0;
    if (!from_input) continue;
    for (const TensorDesc& t : l.outputs) {
      if (t.name.empty()) continue;  // an omitted optional output
      dynamic.insert(t.name);
      if (is_floating(t.dtype)) out.push_back({t.name, t.dtype});
    }
  }
  return out;
}

LayerwiseReport compare_layerwise(const EngineInformation& network,
                                  const std::vector<ExtraTensor>& tensors,
                                  const std::map<std::string, Tensor>& tested,
                                  const std::map<std::string, Tensor>& reference,
                                  const Tolerance& tol) {
  std::unordered_map<std::string, std::string> producer;
  for (const LayerInformation& l : network.layers) {
    for (const TensorDesc& t : l.outputs) producer.emplace(t.name, layer_phrase(l));
  }
  LayerwiseReport report;
  for (const ExtraTensor& e : tensors) {
    auto a = tested.find(e.name);
    auto r = reference.find(e.name);
    if (a == tested.end() || r == reference.end()) {
      report.missing.push_back(e.name);
      continue;
    }
    LayerwiseTensor t;
    t.comparison = compare_tensors(e.name, a->second, r->second, tol);
    auto p = producer.find(e.name);
    t.producer = p != producer.end() ? p->second : "graph input";
    if (!t.comparison.passed) {
      ++report.failing;
      if (report.first_failing < 0) report.first_failing = static_cast<int>(report.tensors.size());
    }
    report.tensors.push_back(std::move(t));
  }
  return report;
}

}  // namespace kiln::tools
