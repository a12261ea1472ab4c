// The tactic a layer runs, stored as node attributes so the plan keeps it: the builder records
// each tuned layer's winner, and pins the ones BuilderConfig::tactics names (`kiln build
// --tactic`). A backend reads them when a context prepares the layer: a recorded tactic wins
// while it is still a candidate (another GPU may lack it); a pinned one must apply, or preparing
// the layer fails naming it.
#pragma once

#include <optional>
#include <string>

#include "ir/graph.hpp"

namespace kiln::ir {

inline constexpr const char* kTacticAttr = "tactic";
inline constexpr const char* kTacticPinnedAttr = "tactic_pinned";

// The tactic the builder recorded or pinned for the layer, "" for none.
inline std::string recorded_tactic(const Node& n) {
  return n.attrs.get_string(kTacticAttr, "");
}

// The tactic the user pinned for the layer, nullopt for none.
inline std::optional<std::string> pinned_tactic(const Node& n) {
  if (n.attrs.get_int(kTacticPinnedAttr, 0) == 0) return std::nullopt;
  return recorded_tactic(n);
}

inline void pin_tactic(Node& n, const std::string& tactic) {
  n.attrs.set(kTacticAttr, tactic);
  n.attrs.set(kTacticPinnedAttr, int64_t{1});
}

}  // namespace kiln::ir
