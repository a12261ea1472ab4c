// Common-subexpression elimination: two nodes with the same op, inputs and attributes compute the
// same outputs, so the later one's users can read the earlier one's outputs.
#include <map>
#include <tuple>

#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

// Ops whose result is not a pure function of their inputs.
bool is_pure(const ir::Node& n) {
  return n.op.rfind("Random", 0) != 0 && n.op != "Multinomial";
}

}  // namespace

bool eliminate_common_subexpressions(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  std::multimap<std::tuple<std::string, std::string, std::vector<ir::Value*>>, ir::Node*> seen;
  for (ir::Node* n : graph.node_list()) {
    if (!is_pure(*n)) continue;
    auto key = std::make_tuple(n->op, n->domain, n->inputs);
    ir::Node* twin = nullptr;
    auto [lo, hi] = seen.equal_range(key);
    for (auto it = lo; it != hi; ++it) {
      ir::Node* c = it->second;
      if (c->attrs == n->attrs && c->outputs.size() == n->outputs.size()) twin = c;
    }
    if (!twin) {
      seen.emplace(key, n);
      continue;
    }
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      if (n->outputs[i] && twin->outputs[i]) {
        changed |= replace_node_output(uses, n, i, twin->outputs[i]);
      }
    }
  }
  if (changed) graph.remove_unused();
  return changed;
}

}  // namespace kiln::passes
