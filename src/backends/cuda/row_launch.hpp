// Threads per block for kernels that give one block to each row of `cols` values: a warp for short
// rows (many rows then run side by side), more threads as rows grow.
#pragma once

#include <cstdint>

namespace kiln::cuda {

inline int row_block_size(int64_t cols) {
  if (cols <= 128) return 32;
  if (cols <= 1024) return 128;
  if (cols <= 4096) return 256;
  return 512;
}

// Blocks for `rows` rows (each block loops over rows with a grid stride past the grid limit).
inline unsigned row_grid(int64_t rows) {
  return static_cast<unsigned>(rows < 1 ? 1 : (rows > 1048576 ? 1048576 : rows));
}

}  // namespace kiln::cuda
