// The one copy behind Transpose, Expand, Slice, Concat, Split, DepthToSpace and SpaceToDepth:
// dst[dst_base + offset_1(i)] = src[src_base + offset_0(i)] over a StridedLayout<2>. The launch
// picks the fastest of: one memcpy (both contiguous), a vectorised copy of contiguous rows (the
// innermost axis stays innermost), a tiled shared-memory transpose (the innermost axis moves), and
// the general element-wise strided copy.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/strided_layout.hpp"

namespace kiln::cuda {

// A planned copy: offsets in elements, strides per the layout (src strides may be negative).
struct StridedCopy {
  StridedLayout<2> layout;
  int64_t count = 0;
  int64_t src_base = 0, dst_base = 0;
};

// Which kernel launch_strided_copy uses for a copy (exposed so tests can name the path a case is
// meant to exercise).
enum class CopyPath { kNone, kMemcpy, kRows, kTiledTranspose, kGeneric };
CopyPath strided_copy_path(const StridedCopy& c, size_t element_bytes);

void launch_strided_copy(const void* src, void* dst, size_t element_bytes, const StridedCopy& c,
                         cudaStream_t stream);

}  // namespace kiln::cuda
