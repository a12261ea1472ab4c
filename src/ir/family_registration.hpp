// One row of a tree's registration table: a registration function and the op family
// (ir/op_family.hpp) whose entries it adds. Each registry (the op table, the ONNX importers, the
// CPU and CUDA kernels) keeps one such table, calls every function from it, and records the row's
// family with each entry, so that a test can hold every entry to its op's family.
#pragma once

#include "ir/op_family.hpp"

namespace kiln::ir {

template <typename Registry>
struct FamilyRegistration {
  OpFamily family;
  void (*add)(Registry& registry);
};

}  // namespace kiln::ir
