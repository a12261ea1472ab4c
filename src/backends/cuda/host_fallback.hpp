// Layers without a CUDA kernel run their CPU kernel in stream order: the inputs are copied to
// pinned host buffers, a host function (cudaLaunchHostFunc) runs the CPU reference kernel, and the
// outputs are copied back. Nothing blocks the calling thread and the steps capture into a CUDA
// graph, so an engine with such a layer keeps enqueue()'s promises; the layer itself pays two
// PCIe copies and a host round trip, which the builder reports.
#pragma once

#include <memory>

#include "backends/cuda/cuda_kernel.hpp"

namespace kiln::cuda {

// True when `op` has no CUDA kernel but a CPU one the fallback can run.
bool runs_on_host(const std::string& op);

// The fallback kernel for a node whose op runs_on_host().
std::unique_ptr<CudaKernel> make_host_fallback_kernel(const ir::Node& node);

}  // namespace kiln::cuda
