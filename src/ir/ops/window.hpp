// Sliding-window geometry shared by Conv, ConvTranspose and the pooling ops: reading the
// kernel/stride/dilation/pad attributes and computing output sizes and the pads actually applied.
// Inference and the CPU kernels both use it, so shapes and kernels always agree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::ir {

// Reports an invalid attribute or shape; must throw (inference passes ctx.fail, so the error code
// fits build time or run time).
using WindowFail = std::function<void(const std::string& message)>;

struct WindowSpec {
  std::vector<int64_t> kernel;  // -1 where unknown (kernel taken from a weight of unknown shape)
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;        // begins of every axis, then ends
  std::string auto_pad = "NOTSET";  // NOTSET, SAME_UPPER, SAME_LOWER, VALID
  bool ceil_mode = false;

  size_t spatial() const { return kernel.size(); }
};

// Reads the window attributes of `node` for `spatial` axes. The kernel comes from the
// kernel_shape attribute, else from `fallback_kernel` (the weight's spatial dims). Invalid values
// are reported through `fail`.
WindowSpec read_window_spec(const Node& node, size_t spatial, std::vector<int64_t> fallback_kernel,
                            const WindowFail& fail);

// One spatial axis of a forward window op: output size and the pads used (auto_pad resolved).
struct AxisWindow {
  int64_t out = -1;  // -1 when the input size is unknown
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};

// Geometry of axis `axis` of a forward window (Conv, pools) over an input of size `in` (-1 when
// unknown). Pools in ceil mode drop a last window that would start beyond the input and its
// leading pad, as ONNX Runtime does.
AxisWindow forward_window(const Node& node, const WindowSpec& w, size_t axis, int64_t in,
                          const WindowFail& fail);

// Geometry of axis `axis` of ConvTranspose over an input of size `in`, with the output_padding
// and output_shape attributes of the node applied.
AxisWindow transpose_window(const Node& node, const WindowSpec& w, size_t axis, int64_t in,
                            const WindowFail& fail);

}  // namespace kiln::ir
