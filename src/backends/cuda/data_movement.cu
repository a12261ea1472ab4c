// CUDA kernels for the data-movement family; each group lives in its own file.
#include "backends/cuda/data_movement_family.hpp"

namespace kiln::cuda {

void register_data_movement_kernels(CudaKernelRegistry& r) {
  register_copy_kernels(r);
  register_layout_kernels(r);
  register_gather_kernels(r);
  register_scatter_kernels(r);
  register_pad_tile_kernels(r);
  register_trilu_cumsum_kernels(r);
  register_rearrange_kernels(r);
}

}  // namespace kiln::cuda
