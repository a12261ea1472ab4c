// The build-pipeline options shared by `kiln build` and `kiln bench`: --disable-pass NAME and
// --tactic LAYER_OR_OP=TACTIC (BuilderConfig::disabled_passes and ::tactics).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace kiln::tools {

struct PipelineOptions {
  std::vector<std::string> disabled_passes;
  std::vector<std::string> tactics;  // LAYER_OR_OP=TACTIC
};

void add_pipeline_options(CLI::App& sub, PipelineOptions& o);

// "LAYER_OR_OP=TACTIC" options, split at the last '=' so layer names may hold one. Throws
// Error(kInvalidArgument) quoting the option on anything else, and on one key pinned to two
// different tactics.
std::map<std::string, std::string> parse_tactics(const std::vector<std::string>& opts);

std::set<std::string> disabled_pass_set(const std::vector<std::string>& names);

}  // namespace kiln::tools
