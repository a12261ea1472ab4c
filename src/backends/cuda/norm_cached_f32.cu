// The cached LayerNorm/RMSNorm rows for float (see norm_cached.cuh).
#include "backends/cuda/norm_cached_impl.cuh"

namespace kiln::cuda {

template void launch_normalize_cached<float>(const float*, float*, int64_t, int64_t, float,
                                             ParamVector, ParamVector, bool, RowStats,
                                             cudaStream_t);

}  // namespace kiln::cuda
