// The geometry of one Conv as cuDNN's graph API takes it, decided on the host from the node and
// its static shapes: NCHW dims for x, w and y with packed strides, or, for channels_last=1 nodes,
// the same NCHW dims with NHWC strides (x [HWC, 1, WC, C], w as KRSC [RSC, 1, SC, C]); a 1-D
// convolution becomes a 2-D one over a unit height, since cuDNN wants 4-D or 5-D tensors; pads
// before and after (auto_pad resolved), strides and dilations.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::cuda {

struct ConvGeometry {
  std::vector<int64_t> x_dims, w_dims, y_dims, bias_dims;
  std::vector<int64_t> x_strides, w_strides, y_strides, bias_strides;
  std::vector<int64_t> pre_pads, post_pads, strides, dilations;  // per spatial axis
  int64_t groups = 1;
  bool channels_last = false;

  size_t spatial() const { return strides.size(); }
};

// Packed row-major strides of `dims`.
std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims);
// Strides of NC-spatial `dims` stored channels-last (N, spatial..., C packed).
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& dims);

// `x`, `w`, `y` are the tensors' shapes as stored (channels-last for channels_last=1 nodes).
// Throws Error(kUnsupported) naming the node for shapes cuDNN cannot take (more than 3 spatial
// axes).
ConvGeometry plan_conv(const ir::Node& node, const Shape& x, const Shape& w, const Shape& y);

}  // namespace kiln::cuda
