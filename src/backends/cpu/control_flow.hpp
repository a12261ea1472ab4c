// Registration of the Scan kernel (scan.cpp) from the control-flow family (control_flow.cpp).
#pragma once

#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_scan_kernel(CpuKernelRegistry& r);

}  // namespace kiln::cpu
