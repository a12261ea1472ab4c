// Registration functions of the data-movement family's files, called from data_movement.cu.
#pragma once

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

void register_copy_kernels(CudaKernelRegistry& r);    // copy_ops.cu: Reshape.., Shape, Range..
void register_layout_kernels(CudaKernelRegistry& r);  // layout.cu: Transpose, Slice, Concat..
void register_gather_kernels(CudaKernelRegistry& r);  // gather.cu: Gather, GatherElements, GatherND
void register_scatter_kernels(CudaKernelRegistry& r);   // scatter.cu: ScatterND, ScatterElements
void register_pad_tile_kernels(CudaKernelRegistry& r);  // pad_tile.cu: Pad, Tile
void register_trilu_cumsum_kernels(CudaKernelRegistry& r);  // trilu_cumsum.cu: Trilu, CumSum
void register_rearrange_kernels(CudaKernelRegistry& r);     // rearrange.cu: Rearrange

}  // namespace kiln::cuda
