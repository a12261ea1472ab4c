// Launch geometry shared by the kiln kernels: grid-stride loops over 64-bit element counts.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace kiln::cuda {

constexpr int kBlockSize = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU several times over, never
// more than the items need (at least one, so empty launches are never made by callers that check).
inline unsigned grid_for(int64_t n, int block = kBlockSize) {
  int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, int64_t{132} * 32));
}

}  // namespace kiln::cuda
