// Runs one node on the CPU: infers its concrete output shapes from the actual inputs, allocates
// the outputs, and calls the kernel. Shared by the executor and by constant folding.
#pragma once

#include <vector>

#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

// Refuses to allocate a single tensor larger than this (a hostile model asking for petabytes).
constexpr size_t kMaxTensorBytes = size_t{64} << 30;

// `inputs` has one entry per node input (nullptr where omitted). Returns one tensor per node
// output (undefined where the node's output is omitted).
std::vector<Tensor> run_node(CpuKernel& kernel, const ir::Node& node,
                             const std::vector<const Tensor*>& inputs);

}  // namespace kiln::cpu
