// Resize sampling shared by the CPU and CUDA kernels: the attributes, the per-axis input taps and
// weights of every output coordinate (as the ONNX reference computes them), and the scales and roi
// read from a node's inputs.
#pragma once

#include <string>
#include <vector>

#include "ir/attribute.hpp"
#include "kiln/tensor.hpp"

namespace kiln::ir {

struct ResizeAttrs {
  std::string mode = "nearest";
  std::string coordinate_mode = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0;
};

ResizeAttrs resize_attrs(const Attributes& a);
// Upsample samples as Resize with asymmetric coordinates and floor rounding.
ResizeAttrs upsample_attrs(const Attributes& a);

// For one axis: `n` taps per output coordinate (input index and weight), and whether the
// coordinate falls outside the crop (tf_crop_and_resize) and takes extrapolation_value.
struct AxisTaps {
  int64_t n = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<bool> outside;
  // Whether a kernel multiplies the zero-weight taps too (plain linear and cubic, as ONNX Runtime
  // does: a NaN or an infinity there makes the output NaN) or skips them (nearest, antialiased,
  // exclude_outside, as the reference does).
  bool keep_zero_weights = false;
};

AxisTaps axis_taps(const ResizeAttrs& at, int64_t in_len, int64_t out_len, double scale,
                   double roi_start, double roi_end);

// The axes a resize samples (`active`; the others keep their coordinate) and their taps.
struct ResizeTaps {
  std::vector<bool> active;
  std::vector<AxisTaps> taps;  // one per axis; empty where not active
};

// `scales` has one entry per input dim; `roi` is empty or starts then ends for every dim.
ResizeTaps resize_taps(const ResizeAttrs& at, const Shape& in, const Shape& out,
                       const std::vector<double>& scales, const std::vector<double>& roi);

// The scales (one per input dim) and roi (empty, or starts then ends for every dim) of a Resize
// node from its roi/scales/sizes inputs (null or empty when omitted). Errors start with `who`.
struct ResizeParams {
  std::vector<double> scales;
  std::vector<double> roi;
};
ResizeParams resize_params(const Attributes& a, const ResizeAttrs& at, const Shape& input,
                           const Tensor* roi, const Tensor* scales, const Tensor* sizes,
                           const std::string& who);
// Upsample's scales: from input 1 when given, else the scales attribute.
std::vector<double> upsample_scales(const Attributes& a, const Tensor* scales, size_t rank,
                                    const std::string& who);

}  // namespace kiln::ir
