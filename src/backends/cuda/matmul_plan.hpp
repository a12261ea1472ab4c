// How one numpy-style MatMul maps onto cuBLASLt strided-batched calls, decided on the host from
// the static shapes: 1-D operands promoted, a batch that only A has folded into M, broadcast batch
// dims expressed as zero strides, and whatever one stride cannot express split into several calls.
// No broadcast operand is ever materialised.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::cuda {

struct MatmulPlan {
  // One row-major product C[M,N] = A[M,K] B[K,N] per batch entry.
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;  // strided batch of each call
  // Element strides between batch entries (0: the operand is broadcast over the batch).
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  // Element offsets of each call's first batch entry, for A, B and C. At least one call unless
  // the output is empty.
  struct Call {
    int64_t a = 0, b = 0, c = 0;
  };
  std::vector<Call> calls;
};

// Plans the product of A (shape `a`) and B (shape `b`), both row-major and contiguous, writing a
// contiguous output of the broadcast batch shape. Shapes must already have passed MatMul
// inference (ranks >= 1, matching K, broadcastable batches).
MatmulPlan plan_matmul(const Shape& a, const Shape& b);

}  // namespace kiln::cuda
