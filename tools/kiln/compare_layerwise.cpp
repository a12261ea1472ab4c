// Layerwise comparison: choosing the tensors and walking them in topological order.
#include "compare_layerwise.hpp"

#include <unordered_set>

namespace kiln::tools {

std::vector<ExtraTensor> intermediate_tensors(const ir::Graph& graph) {
  std::unordered_set<const ir::Value*> dynamic(graph.inputs().begin(), graph.inputs().end());
  std::vector<ExtraTensor> out;
  for (const auto& n : graph.nodes()) {
    bool from_input = false;
    for (const ir::Value* v : n->inputs) from_input = from_input || (v && dynamic.count(v));
    if (!from_input) continue;
    for (const ir::Value* v : n->outputs) {
      if (!v || v->is_constant()) continue;
      dynamic.insert(v);
      if (is_floating(v->dtype)) out.push_back({v->name, v->dtype});
    }
  }
  return out;
}

LayerwiseReport compare_layerwise(const ir::Graph& graph, const std::vector<ExtraTensor>& tensors,
                                  const std::map<std::string, Tensor>& tested,
                                  const std::map<std::string, Tensor>& reference,
                                  const Tolerance& tol) {
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
    const ir::Value* v = graph.find_value(e.name);
    t.producer = v && v->producer ? v->producer->describe() : "graph input";
    if (!t.comparison.passed) {
      ++report.failing;
      if (report.first_failing < 0) report.first_failing = static_cast<int>(report.tensors.size());
    }
    report.tensors.push_back(std::move(t));
  }
  return report;
}

}  // namespace kiln::tools
