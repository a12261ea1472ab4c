// The factory the CUDA registry stores for a kernel class constructed from its node.
#pragma once

#include <memory>

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

template <typename K>
std::unique_ptr<CudaKernel> make_kernel(const ir::Node& node) {
  return std::make_unique<K>(node);
}

// An elementwise functor for a node: ops read their attributes with `static Op make(const
// ir::Node&)` when they have any (Mod's fmod, LeakyRelu's alpha), else are default-made.
template <typename Op>
Op make_op(const ir::Node& node) {
  if constexpr (requires { Op::make(node); }) {
    return Op::make(node);
  } else {
    return Op{};
  }
}

// The one error every kiln CUDA kernel gives for an element type it does not take.
[[noreturn]] inline void fail_dtype(const CudaKernelContext& ctx, size_t input, DataType t) {
  ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel of ", ctx.node.op, " does not accept input ",
           input, " of type ", to_string(t));
}

}  // namespace kiln::cuda
