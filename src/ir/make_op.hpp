// How both backends make an elementwise op functor for a node: functors with attributes (Mod's
// fmod, LeakyRelu's alpha) build themselves with `static Op make(const ir::Node&)`, the others are
// default-made.
#pragma once

#include "ir/graph.hpp"

namespace kiln::ir {

template <typename Op>
Op make_op(const Node& node) {
  if constexpr (requires { Op::make(node); }) {
    return Op::make(node);
  } else {
    return Op{};
  }
}

}  // namespace kiln::ir
