// The part of a fused layer's epilogue (bias, residual, activation) that the library running its
// linear part could not take, applied in place to the layer's output by one kiln kernel:
//   y = act(y + bias + z)   or   y = act(y + bias) + z   (residual_before_activation = 0).
// Shared by FusedMatMul (cuBLASLt) and FusedConv (cuDNN).
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <vector>

#include "ir/activation.hpp"
#include "kiln/types.hpp"

namespace kiln::cuda {

struct EpilogueLaunch {
  static constexpr int kMaxRank = 8;

  DataType dtype = DataType::kFloat32;
  void* y = nullptr;  // contiguous, `dims` shaped
  int rank = 0;
  std::array<int64_t, kMaxRank> dims{};
  // The bias read at each output position: element strides per output dim (0 where broadcast);
  // null bias for none.
  const void* bias = nullptr;
  std::array<int64_t, kMaxRank> bias_strides{};
  const void* residual = nullptr;  // y's shape, contiguous; null for none
  bool residual_before_activation = true;
  ir::Activation act;

  int64_t numel() const;
  // True when there is nothing to do.
  bool empty() const { return !bias && !residual && act.kind == ir::ActivationKind::kNone; }
};

// Launches the epilogue on `stream` (float32, float16, bfloat16, float64); checks the launch.
void launch_epilogue(const EpilogueLaunch& e, cudaStream_t stream);

// Collapses `dims`/`bias_strides` (dims of 1 dropped, mergeable neighbours merged) so the kernel
// decodes as few dims as possible; throws kUnsupported past kMaxRank dims.
void collapse_epilogue_dims(EpilogueLaunch& e, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& bias_strides);

}  // namespace kiln::cuda
