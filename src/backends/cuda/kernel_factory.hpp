// The factory the CUDA registry stores for a kernel class constructed from its node.
#pragma once

#include <memory>

#include "backends/cuda/cuda_kernel.hpp"
#include "ir/make_op.hpp"

namespace kiln::cuda {

template <typename K>
std::unique_ptr<CudaKernel> make_kernel(const ir::Node& node) {
  return std::make_unique<K>(node);
}

using ir::make_op;

// The one error every kiln CUDA kernel gives for an element type it does not take.
[[noreturn]] inline void fail_dtype(const CudaKernelContext& ctx, size_t input, DataType t) {
  ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel of ", ctx.node.op, " does not accept input ",
           input, " of type ", to_string(t));
}

}  // namespace kiln::cuda
