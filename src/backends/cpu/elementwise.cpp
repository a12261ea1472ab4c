// CPU kernels for the elementwise op family.
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_elementwise_kernels(CpuKernelRegistry& r) {}

}  // namespace kiln::cpu
