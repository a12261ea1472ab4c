// KILN_HOST_DEVICE marks a function nvcc compiles for the host and the GPU alike, so the CPU and
// CUDA backends share one definition of the semantics they must agree on.
#pragma once

#if defined(__CUDACC__)
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif
