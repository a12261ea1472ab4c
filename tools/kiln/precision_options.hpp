// The per-layer precision options shared by `kiln build` and `kiln compare`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::tools {

// "NAME=PRECISION" options (--precision-constraint), split at the last '=' so layer names may
// hold one. Throws Error(kInvalidArgument) quoting the option on anything else.
std::map<std::string, Precision> parse_precision_constraints(const std::vector<std::string>& opts);

}  // namespace kiln::tools
