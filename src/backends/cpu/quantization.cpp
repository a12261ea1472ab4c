// CPU kernels for the quantization op family.
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_quantization_kernels(CpuKernelRegistry& r) {}

}  // namespace kiln::cpu
