// simplify_network (kiln/simplify.hpp): the builder's cleanup passes on a network, with a record
// of which reads they redirected.
#include "kiln/simplify.hpp"

#include <set>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "passes/pass_manager.hpp"
#include "passes/passes.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

// Passes that keep semantics and only delete layers or turn tensors constant, so every tensor
// still named X equals what X was. (A pass removing a layer that produces a network output gives
// the output's name to the equal tensor that replaces it; that is still equal.)
std::vector<passes::Pass> simplify_passes() {
  return {{"fold_constants", passes::fold_constants},
          {"eliminate_constant_selects", passes::eliminate_constant_selects},
          {"eliminate_noops", passes::eliminate_noops},
          {"eliminate_common_subexpressions", passes::eliminate_common_subexpressions},
          {"eliminate_dead_code", passes::eliminate_dead_code}};
}

}  // namespace

SimplifyReport simplify_network(Network& network) {
  if (!network.impl().graph) fail(ErrorCode::kInternal, "network has no graph");
  ir::Graph& graph = *network.impl().graph;
  SimplifyReport report;
  report.layers_before = graph.nodes().size();
  // What each layer read before the passes; one that survives and now reads another tensor reads
  // an equal one.
  std::vector<std::pair<const ir::Node*, std::vector<std::string>>> before;
  for (const auto& n : graph.nodes()) {
    std::vector<std::string> names;
    for (const ir::Value* v : n->inputs) names.push_back(v ? v->name : "");
    before.emplace_back(n.get(), std::move(names));
  }
  log(Severity::kInfo,
      passes::format_pass_records(passes::PassManager(simplify_passes()).run(graph)));
  network.impl().output_set.clear();  // outputs may now be other (equal) tensors

  // Surviving layers are still in the graph (these passes create none, so no address is reused).
  std::set<const ir::Node*> alive;
  for (const auto& n : graph.nodes()) alive.insert(n.get());
  for (const auto& [node, names] : before) {
    if (!alive.count(node) || node->inputs.size() != names.size()) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      const ir::Value* now = node->inputs[i];
      if (now && !names[i].empty() && now->name != names[i]) {
        report.redirected_reads.emplace_back(names[i], now->name);
      }
    }
  }
  report.layers_after = graph.nodes().size();
  return report;
}

}  // namespace kiln
