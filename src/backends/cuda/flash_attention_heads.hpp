// Which attention layers the tensor-core flash kernels (attention_flash.cu,
// attention_flash_tf32.cu) take, by element type and head sizes: FP16/BF16, or FP32 where the layer
// allows TF32 products, with D = Dv of 32, 64 or 128. Header-only and free of CUDA, so the builder
// can ask it when it decides which attention layers read their operands in place.
#pragma once

#include <cstdint>

#include "kiln/types.hpp"

namespace kiln::cuda {

inline bool flash_attention_dtype(DataType t, bool allow_tf32) {
  return t == DataType::kFloat16 || t == DataType::kBFloat16 ||
         (t == DataType::kFloat32 && allow_tf32);
}

inline bool flash_attention_heads(int64_t d, int64_t dv) {
  return d == dv && (d == 32 || d == 64 || d == 128);
}

}  // namespace kiln::cuda
