// CPU kernels for the shape op family.
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_shape_kernels(CpuKernelRegistry& r) {}

}  // namespace kiln::cpu
