// CUDA kernel registry.
#include "backends/cuda/cuda_kernel.hpp"

#include <algorithm>

namespace kiln::cuda {

const CudaKernelRegistry& CudaKernelRegistry::instance() {
  static const CudaKernelRegistry registry = [] {
    CudaKernelRegistry r;
    register_data_movement_kernels(r);
    register_elementwise_kernels(r);
    register_library_kernels(r);
    register_reduction_kernels(r);
    return r;
  }();
  return registry;
}

void CudaKernelRegistry::add(const std::string& op, CudaKernelFactory factory) {
  entries_.emplace_back(op, factory);
}

bool CudaKernelRegistry::has(const std::string& op) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return e.first == op; });
}

std::unique_ptr<CudaKernel> CudaKernelRegistry::create(const ir::Node& node) const {
  for (const auto& [op, factory] : entries_) {
    if (op == node.op) return factory(node);
  }
  fail(ErrorCode::kUnsupported, node.describe(), ": the CUDA backend has no kernel for op '",
       node.op, "'");
}

}  // namespace kiln::cuda
