// Parsing of --disable-pass and --tactic.
#include "pipeline_options.hpp"

#include "kiln/error.hpp"

namespace kiln::tools {

void add_pipeline_options(CLI::App& sub, PipelineOptions& o) {
  sub.add_option("--disable-pass", o.disabled_passes,
                 "leave a pass out of the build pipeline (repeatable; `kiln build --verbose` "
                 "lists the passes that run, e.g. fuse_pointwise, space_to_depth_stems)")
      ->allow_extra_args(false);
  sub.add_option("--tactic", o.tactics,
                 "pin the tactic of the layers a layer name, ONNX node name or op names: "
                 "LAYER_OR_OP=TACTIC, e.g. ScaledDotProductAttention=gemm, "
                 "LayerNormalization=cached_rows, Pointwise=interpret (repeatable; CUDA)")
      ->allow_extra_args(false);
}

std::map<std::string, std::string> parse_tactics(const std::vector<std::string>& opts) {
  std::map<std::string, std::string> out;
  for (const std::string& opt : opts) {
    const size_t eq = opt.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == opt.size()) {
      fail(ErrorCode::kInvalidArgument, "--tactic '", opt,
           "': expected LAYER_OR_OP=TACTIC (a layer name, ONNX node name or op, then the tactic)");
    }
    const std::string key = opt.substr(0, eq);
    const std::string tactic = opt.substr(eq + 1);
    auto [it, added] = out.emplace(key, tactic);
    if (!added && it->second != tactic) {
      fail(ErrorCode::kInvalidArgument, "--tactic pins '", key, "' twice: to '", it->second,
           "' and to '", tactic, "'");
    }
  }
  return out;
}

std::set<std::string> disabled_pass_set(const std::vector<std::string>& names) {
  std::set<std::string> out;
  for (const std::string& name : names) {
    if (name.empty()) fail(ErrorCode::kInvalidArgument, "--disable-pass needs a pass name");
    out.insert(name);
  }
  return out;
}

}  // namespace kiln::tools
