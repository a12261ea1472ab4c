// The generic Pointwise kernel: one compiled kernel that interprets any program (registers in
// thread-local memory). The fallback where NVRTC is unavailable or fails, and the reference the
// generated kernels are tested against.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "backends/cuda/pointwise_args.hpp"
#include "kiln/types.hpp"

namespace kiln::cuda {

constexpr int64_t kInterpreterMaxRegisters = 256;

// One instruction as the device reads it (ir::PointwiseInstruction narrowed to 32 bits).
struct DeviceInstruction {
  int32_t op, a, b, c;
};

// `code` (num_instructions entries) and `constants` live in device memory.
void launch_pointwise_interpreter(const PointwiseArgs& args, DataType dtype,
                                  const DeviceInstruction* code, int num_instructions,
                                  const float* constants, int num_inputs, const int32_t* outputs,
                                  int num_outputs, cudaStream_t stream);

}  // namespace kiln::cuda
