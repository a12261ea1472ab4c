// The build pipeline: the stages that turn an imported graph into the graph a backend runs. Each
// stage is a list of passes run by the PassManager (timed, verified after every change, listed
// stage by stage by `kiln build --verbose`); the backend adds its own passes at two stages
// (backends/backend.hpp). After the pipeline the builder checks support, plans memory and tunes.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "builder/precision.hpp"
#include "passes/pass_manager.hpp"

namespace kiln::builder {

struct PipelineStage {
  std::string name;
  std::vector<passes::Pass> passes;
  int max_rounds = 1;  // the graph optimizations run to a fixed point; the other stages once
};

// The stages for `config` on `backend`, in order, without the passes config.disabled_passes
// names. `precision` receives the precision stage's summary when it runs. Fails
// (kInvalidArgument) when a disabled name is no pass of any stage, or a required one.
std::vector<PipelineStage> build_pipeline(const BuilderConfig& config,
                                          const backends::Backend& backend,
                                          PrecisionSummary* precision);

// Runs the stages in order on `graph` and returns what each pass did.
std::vector<passes::PassRecord> run_pipeline(ir::Graph& graph,
                                             const std::vector<PipelineStage>& stages);

}  // namespace kiln::builder
