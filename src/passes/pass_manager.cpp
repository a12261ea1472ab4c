// Fixed-point pass driver.
#include "passes/pass_manager.hpp"

#include <chrono>
#include <cstdio>

#include "core/logging.hpp"
#include "ir/verifier.hpp"
#include "passes/passes.hpp"

namespace kiln::passes {

std::vector<PassRecord> PassManager::run(ir::Graph& graph) const {
  std::vector<PassRecord> records;
  for (int round = 1; round <= max_rounds_; ++round) {
    bool any = false;
    for (const Pass& pass : passes_) {
      PassRecord r;
      r.stage = stage_;
      r.name = pass.name;
      r.round = round;
      r.layers_before = graph.nodes().size();
      auto start = std::chrono::steady_clock::now();
      r.changed = pass.run(graph);
      r.milliseconds =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      r.layers_after = graph.nodes().size();
      if (r.changed) ir::verify_graph(graph);
      any |= r.changed;
      records.push_back(r);
    }
    if (!any) break;
  }
  return records;
}

std::vector<Pass> default_passes(int optimization_level) {
  std::vector<Pass> passes = {{"eliminate_dead_code", eliminate_dead_code}};
  if (optimization_level <= 0) return passes;
  return {
      {"eliminate_noops", eliminate_noops},
      {"fold_constants", fold_constants},
      {"eliminate_constant_selects", eliminate_constant_selects},
      {"inline_constant_ifs", inline_constant_ifs},
      {"eliminate_common_subexpressions", eliminate_common_subexpressions},
      // Pattern recognizers first: folding scales into weights would hide the attention scale.
      {"recognize_layernorm", recognize_layernorm},
      {"recognize_gelu", recognize_gelu},
      {"recognize_attention", recognize_attention},
      {"cancel_transposes", cancel_transposes},
      {"collapse_view_chains", collapse_view_chains},
      {"fold_batchnorm", fold_batchnorm},
      {"fold_scale_into_weights", fold_scale_into_weights},
      {"fuse_epilogues", fuse_epilogues},
      // Last among the fusions: it would otherwise take the elementwise layers that the pattern
      // recognizers and epilogue fusion match.
      {"fuse_pointwise", fuse_pointwise},
      {"eliminate_dead_code", eliminate_dead_code},
  };
}

std::string format_pass_records(const std::vector<PassRecord>& records) {
  std::string out = "passes (round, name, layers before -> after, time):";
  char line[160];
  const std::string* stage = nullptr;
  for (const PassRecord& r : records) {
    if (!r.stage.empty() && (!stage || *stage != r.stage)) {
      out += "\n stage " + r.stage + ":";
      stage = &r.stage;
    }
    std::snprintf(line, sizeof line, "\n  %d  %-34s %5zu -> %-5zu %8.2f ms%s", r.round,
                  r.name.c_str(), r.layers_before, r.layers_after, r.milliseconds,
                  r.changed ? "" : "  (no change)");
    out += line;
  }
  return out;
}

}  // namespace kiln::passes
