// The cached LayerNorm/RMSNorm rows for half_t (see norm_cached.cuh).
#include "backends/cuda/norm_cached_impl.cuh"

namespace kiln::cuda {

template void launch_normalize_cached<half_t>(const half_t*, half_t*, int64_t, int64_t, float,
                                              ParamVector, ParamVector, bool, RowStats,
                                              cudaStream_t);

}  // namespace kiln::cuda
