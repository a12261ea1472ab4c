// Fills a library kernel's output with a broadcast operand before the library accumulates into it
// (beta = 1): Gemm's C when it is neither full nor a bias row, a convolution's bias when cuDNN
// cannot fuse the add.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace kiln::cuda {

// out[i0, i1, i2] = src[i0 * s0 + i1 * s1 + i2 * s2] over dims d0 x d1 x d2 (out contiguous),
// for elements of `element_size` bytes (1, 2, 4 or 8).
void prefill_output(void* out, const void* src, size_t element_size,
                    const std::array<int64_t, 3>& dims, const std::array<int64_t, 3>& src_strides,
                    cudaStream_t stream);

}  // namespace kiln::cuda
