// The one kernel behind Transpose, Expand, Slice, Concat, Split, DepthToSpace and SpaceToDepth:
// dst[dst_base + offset_1(i)] = src[src_base + offset_0(i)] over a StridedLayout<2>, instantiated
// per element size only.
#pragma once

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/launch.hpp"

namespace kiln::cuda {

// A planned copy: offsets in elements, strides per the layout (src strides may be negative).
struct StridedCopy {
  StridedLayout<2> layout;
  int64_t count = 0;
  int64_t src_base = 0, dst_base = 0;
};

template <typename E>
__global__ void strided_copy_kernel(const E* __restrict__ src, E* __restrict__ dst, StridedCopy c) {
  for (int64_t i = global_index(); i < c.count; i += global_stride()) {
    int64_t off[2];
    strided_offsets(c.layout, i, off);
    dst[c.dst_base + off[1]] = src[c.src_base + off[0]];
  }
}

inline void launch_strided_copy(const void* src, void* dst, size_t element_bytes,
                                const StridedCopy& c, cudaStream_t stream) {
  if (c.count <= 0) return;
  visit_element_size(element_bytes, [&](auto tag) {
    using E = decltype(tag);
    strided_copy_kernel<<<grid_for(c.count), kBlockSize, 0, stream>>>(static_cast<const E*>(src),
                                                                      static_cast<E*>(dst), c);
    KILN_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace kiln::cuda
