// Batched float32 matrix multiply through oneDNN, for kernels that reduce to matmul (Einsum).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// y[b] = a[b] x w[b] for `batch` row-major (m x k) and (k x n) matrices, all contiguous.
void batched_matmul_f32(const float* a, const float* w, float* y, int64_t batch, int64_t m,
                        int64_t k, int64_t n);

}  // namespace kiln::cpu
