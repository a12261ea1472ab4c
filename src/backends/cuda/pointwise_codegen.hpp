// CUDA C++ source for one Pointwise layer's program (ir/pointwise_program.hpp), compiled with
// NVRTC: the program's registers become local variables, each instruction one statement with the
// formula every backend uses (ir/activation_math.hpp, whose text the source carries), results
// rounded to float16/bfloat16 after every instruction as the unfused ops would store them. The
// source includes no headers, so NVRTC needs no CUDA include path at run time.
#pragma once

#include <string>

#include "ir/pointwise_program.hpp"
#include "kiln/types.hpp"

namespace kiln::cuda {

// The name of the generated kernel, extern "C" so it is not mangled.
inline constexpr const char* kPointwiseKernelName = "kiln_pointwise";

// The whole translation unit for `program` over elements of `dtype` (float32, float16, bfloat16
// or float64); throws Error(kUnsupported) for other dtypes.
std::string pointwise_cuda_source(const ir::PointwiseProgram& program, DataType dtype);

}  // namespace kiln::cuda
