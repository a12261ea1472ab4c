// Division by a fixed 32-bit divisor as a multiply-high and a shift (Granlund-Montgomery, as
// PyTorch's IntDivider): the data-movement kernels split flat indices into coordinates at memory
// speed, where a hardware 64-bit division per element would make them compute-bound.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/error.hpp"

namespace kiln::cuda {

// Exact for dividends below 2^31 (callers check that their index ranges fit).
struct IntDivider {
  uint32_t divisor = 1;
  uint32_t magic = 0;
  uint32_t shift = 0;

  IntDivider() = default;
  explicit IntDivider(int64_t d) {
    if (d < 1 || d > (int64_t{1} << 31)) fail(ErrorCode::kInternal, "bad fast divisor ", d);
    divisor = static_cast<uint32_t>(d);
    while ((uint64_t{1} << shift) < divisor) ++shift;
    const uint64_t m = ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - divisor)) / divisor + 1;
    magic = static_cast<uint32_t>(m);
  }

  __host__ __device__ __forceinline__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t hi = __umulhi(n, magic);
#else
    const auto hi = static_cast<uint32_t>((uint64_t{n} * magic) >> 32);
#endif
    return (hi + n) >> shift;
  }
};

}  // namespace kiln::cuda
