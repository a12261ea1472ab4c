// Parsing of --precision-constraint LAYER=PRECISION.
#include "precision_options.hpp"

#include <optional>

#include "kiln/error.hpp"

namespace kiln::tools {

std::map<std::string, Precision> parse_precision_constraints(const std::vector<std::string>& opts) {
  std::map<std::string, Precision> out;
  for (const std::string& opt : opts) {
    size_t eq = opt.rfind('=');
    std::optional<Precision> p;
    if (eq != std::string::npos && eq > 0) p = parse_precision(opt.substr(eq + 1));
    if (!p) {
      fail(ErrorCode::kInvalidArgument, "--precision-constraint '", opt,
           "': expected LAYER=PRECISION with PRECISION one of fp32, tf32, fp16, bf16");
    }
    out[opt.substr(0, eq)] = *p;
  }
  return out;
}

}  // namespace kiln::tools
