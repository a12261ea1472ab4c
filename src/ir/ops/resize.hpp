// Resize geometry shared by inference and the kernels: output shape and per-axis scale factors
// from the scales or sizes input, the axes attribute and keep_aspect_ratio_policy.
#pragma once

#include <string>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::ir {

struct ResizeGeometry {
  Shape output;
  std::vector<double> scales;  // one per input dim; 1 for dims not resized
};

// `axes` are normalized; `scales` or `sizes` (exactly one non-null) hold one entry per axis.
// Throws Error(code) starting with `who` when the request is invalid.
ResizeGeometry resize_geometry(const Shape& input, const std::vector<double>* scales,
                               const std::vector<int64_t>* sizes, const std::vector<int64_t>& axes,
                               const std::string& keep_aspect_ratio_policy, const std::string& who,
                               ErrorCode code);

}  // namespace kiln::ir
