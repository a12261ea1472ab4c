// The build pipeline's stages and the order they run in.
#include "builder/pipeline.hpp"

#include "builder/choose_layout.hpp"
#include "core/error.hpp"
#include "passes/passes.hpp"

namespace kiln::builder {
namespace {

// Every stage, whatever the optimization level, so that a pass can be named (and disabled) at
// any level; `enabled` says which stages the level runs.
struct CandidateStage {
  PipelineStage stage;
  bool enabled = true;
};

std::vector<CandidateStage> all_stages(const BuilderConfig& config,
                                       const backends::Backend& backend,
                                       PrecisionSummary* precision) {
  const bool optimize = config.optimization_level > 0;
  std::vector<CandidateStage> stages;
  stages.push_back(
      {{"graph optimizations", passes::default_passes(optimize ? config.optimization_level : 0),
        /*max_rounds=*/8},
       true});
  stages.push_back({{cat(backend.name(), " rewrites before layout"),
                     backend.passes(backends::PassStage::kBeforeLayout)},
                    optimize});
  // Layout before precision: the Transposes at region borders then get their neighbours'
  // precision, and Cast layers go where precisions differ, never between a Transpose pair.
  // Level 0 (no optimization) keeps the model's layout unless one is asked for.
  const LayoutPolicy policy = backend.layout_policy();
  const Layout requested = config.layout;
  stages.push_back({{"layout",
                     {{"choose_layout",
                       [policy, requested](ir::Graph& g) {
                         return choose_layout(g, policy, requested).channels_last_regions > 0;
                       },
                       /*required=*/true}}},
                    optimize || config.layout != Layout::kAuto});
  stages.push_back({{"precision",
                     {{"assign_precisions",
                       [&config, precision](ir::Graph& g) {
                         PrecisionSummary s = assign_precisions(g, config);
                         const bool changed = s.reformat_layers > 0 || s.converted_weights > 0;
                         if (precision) *precision = std::move(s);
                         return changed;
                       },
                       /*required=*/true}}},
                    true});
  // After precision: whether the backend reads an attention layer's heads interleaved at full
  // speed depends on the layer's precision.
  auto wanted = [&backend](const ir::Node& n) { return backend.reads_interleaved_heads(n); };
  stages.push_back(
      {{"attention",
        {{"merge_attention_projections",
          [wanted](ir::Graph& g) { return passes::merge_attention_projections(g, wanted); }},
         {"absorb_attention_transposes",
          [wanted](ir::Graph& g) {
            // The absorbed output Transpose leaves a Reshape between the output projection and
            // its residual Add, which the residual then fuses through.
            if (!passes::absorb_attention_transposes(g, wanted)) return false;
            passes::fuse_residual_through_reshape(g);
            return true;
          }}}},
       optimize});
  stages.push_back({{cat(backend.name(), " rewrites after precision"),
                     backend.passes(backends::PassStage::kAfterPrecision)},
                    optimize});
  return stages;
}

std::string pass_names(const std::vector<CandidateStage>& stages) {
  std::string out;
  std::set<std::string> seen;
  for (const CandidateStage& c : stages) {
    for (const passes::Pass& p : c.stage.passes) {
      if (p.required || !seen.insert(p.name).second) continue;
      out += (out.empty() ? "" : ", ") + p.name;
    }
  }
  return out;
}

const passes::Pass* find_pass(const std::vector<CandidateStage>& stages, const std::string& name) {
  for (const CandidateStage& c : stages) {
    for (const passes::Pass& p : c.stage.passes) {
      if (p.name == name) return &p;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<PipelineStage> build_pipeline(const BuilderConfig& config,
                                          const backends::Backend& backend,
                                          PrecisionSummary* precision) {
  // The level-3 stages hold every pass a lower level may run.
  BuilderConfig every_pass = config;
  every_pass.optimization_level = 3;
  const std::vector<CandidateStage> known = all_stages(every_pass, backend, nullptr);
  for (const std::string& name : config.disabled_passes) {
    const passes::Pass* p = find_pass(known, name);
    if (!p) {
      fail(ErrorCode::kInvalidArgument, "cannot disable pass '", name, "': the ", backend.name(),
           " build pipeline has no pass of that name (its passes: ", pass_names(known), ")");
    }
    if (p->required) {
      fail(ErrorCode::kInvalidArgument, "cannot disable pass '", name,
           "': the build needs it (choose the layout with --layout, precisions with the "
           "precision flags)");
    }
  }
  std::vector<PipelineStage> out;
  for (CandidateStage& c : all_stages(config, backend, precision)) {
    if (!c.enabled) continue;
    std::erase_if(c.stage.passes,
                  [&](const passes::Pass& p) { return config.disabled_passes.count(p.name) != 0; });
    if (!c.stage.passes.empty()) out.push_back(std::move(c.stage));
  }
  return out;
}

std::vector<passes::PassRecord> run_pipeline(ir::Graph& graph,
                                             const std::vector<PipelineStage>& stages) {
  std::vector<passes::PassRecord> records;
  for (const PipelineStage& stage : stages) {
    std::vector<passes::PassRecord> r =
        passes::PassManager(stage.passes, stage.max_rounds, stage.name).run(graph);
    records.insert(records.end(), r.begin(), r.end());
  }
  return records;
}

}  // namespace kiln::builder
