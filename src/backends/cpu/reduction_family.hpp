// Registration of the reduction family's kernels that live outside reduction.cpp.
#pragma once

#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

void register_index_kernels(CpuKernelRegistry& r);   // ArgMax, ArgMin, TopK, CumSum, NMS
void register_resize_kernels(CpuKernelRegistry& r);  // Resize, Upsample

}  // namespace kiln::cpu
