// The check that holds each tree's registrations to the op families (ir/op_family.hpp): every op a
// tree registers something for must be in the op table and must have been registered by a
// registration function of its op's family. Shared by the CPU/importer and the CUDA coverage tests.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "ir/op_registry.hpp"

namespace kiln::ir {

// One line for each registration whose family is not its op's family (or whose op the table does
// not know); "" when every registration is in its op's family. `what` names the registrations
// ("CPU kernel").
inline std::string family_mismatches(
    const std::vector<std::pair<std::string, OpFamily>>& registrations, const char* what) {
  std::string out;
  for (const auto& [op, family] : registrations) {
    const OpSchema* schema = OpRegistry::instance().find(op);
    if (!schema) {
      out += cat("\n  ", what, " for '", op, "': the op table has no such op");
    } else if (schema->family != family) {
      out += cat("\n  ", what, " for ", op, " is registered by a ", op_family_name(family),
                 " registration function, but ", op, " is in the ", op_family_name(schema->family),
                 " family");
    }
  }
  return out;
}

}  // namespace kiln::ir
