// The element conversion behind the Cast kernel, for the rest of kiln (Tensor::cast): ONNX Cast
// rules between every pair of kiln types (elementwise_cast.cpp says how each pair converts).
#pragma once

#include "kiln/tensor.hpp"

namespace kiln::cpu {

// Converts every element of `in` into `out`, which has as many elements (any two types).
// `saturate`: fp8 results clamp to the largest finite value instead of becoming NaN.
void cast_into(const Tensor& in, Tensor& out, bool saturate = true);

}  // namespace kiln::cpu
