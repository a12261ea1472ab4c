// CPU kernels for the nn op family.
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_nn_kernels(CpuKernelRegistry& r) {}

}  // namespace kiln::cpu
