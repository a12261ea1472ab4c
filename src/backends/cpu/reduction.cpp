// CPU kernels for the reduction op family.
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_reduction_kernels(CpuKernelRegistry& r) {}

}  // namespace kiln::cpu
