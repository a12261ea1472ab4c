// Runtime compilation of generated Pointwise kernels with NVRTC, for the device's own architecture,
// cached per (source, architecture) for the life of the process, so identical layers (and every
// execution context of an engine) compile once.
//
// Hook for plans: CompiledPointwise::cubin holds the compiled image. A plan file can store it with
// the layer and hand it back through load_pointwise_cubin() (same cache key), which skips NVRTC.
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

namespace kiln::cuda {

struct CompiledPointwise {
  std::vector<char> cubin;
  cudaLibrary_t library = nullptr;
  cudaKernel_t kernel = nullptr;
};

// Compiles `source` to a cubin for sm_<arch> (e.g. 90); throws Error(kInternal) with NVRTC's log
// naming `what` when compilation fails. Needs no GPU.
std::vector<char> nvrtc_compile(const std::string& source, int arch, const std::string& what);

// The loaded kernel for `source` on sm_<arch>: from the process cache, or compiled and loaded now.
std::shared_ptr<const CompiledPointwise> compile_pointwise(const std::string& source, int arch,
                                                           const std::string& what);

// Loads a cubin compiled earlier for `source` (e.g. stored in a plan) into the cache.
std::shared_ptr<const CompiledPointwise> load_pointwise_cubin(const std::string& source, int arch,
                                                              std::vector<char> cubin);

}  // namespace kiln::cuda
