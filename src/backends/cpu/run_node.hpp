// Runs one node on the CPU: infers its concrete output shapes from the actual inputs, allocates
// the outputs (none larger than tensor_byte_limit()), and calls the kernel. Shared by the executor
// and by constant folding.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

// Planned memory for one output (from the engine's memory plan): used instead of a fresh
// allocation when the inferred output needs exactly `bytes`. `zero` clears it first, as a fresh
// tensor would be; an in-place output (over an input's bytes) must not be cleared.
struct OutputMemory {
  void* data = nullptr;
  uint64_t bytes = 0;
  bool zero = true;
};

// `inputs` has one entry per node input (nullptr where omitted). Returns one tensor per node
// output (undefined where the node's output is omitted). `memory`, if not empty, has one entry
// per output (data nullptr: allocate as usual); `owner` keeps that memory alive.
std::vector<Tensor> run_node(CpuKernel& kernel, const ir::Node& node,
                             const std::vector<const Tensor*>& inputs,
                             std::span<const OutputMemory> memory = {},
                             const std::shared_ptr<void>& owner = nullptr);

}  // namespace kiln::cpu
