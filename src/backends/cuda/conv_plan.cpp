// Conv geometry for cuDNN from the same window helpers inference uses, so the CUDA kernel pads and
// strides exactly as the shapes were inferred.
#include "backends/cuda/conv_plan.hpp"

#include "core/error.hpp"
#include "ir/ops/window.hpp"

namespace kiln::cuda {

std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(dims[i], 1);
  return s;
}

ConvGeometry plan_conv(const ir::Node& node, const Shape& x, const Shape& w, const Shape& y) {
  size_t spatial = x.size() - 2;
  if (spatial < 1 || spatial > 3) {
    fail(ErrorCode::kUnsupported, node.describe(), ": cuDNN convolves over 1 to 3 spatial axes; ",
         "this input has ", spatial);
  }
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  ir::WindowFail on_fail = [&node](const std::string& m) {
    fail(ErrorCode::kInvalidModel, node.describe(), ": ", m);
  };
  ir::WindowSpec spec = ir::read_window_spec(node, spatial, kernel, on_fail);
  ConvGeometry g;
  g.groups = node.attrs.get_int("group", 1);
  for (size_t i = 0; i < spatial; ++i) {
    ir::AxisWindow a = ir::forward_window(node, spec, i, x[i + 2], on_fail);
    g.pre_pads.push_back(a.pad_begin);
    g.post_pads.push_back(a.pad_end);
    g.strides.push_back(spec.strides[i]);
    g.dilations.push_back(spec.dilations[i]);
  }
  g.x_dims.assign(x.begin(), x.end());
  g.w_dims.assign(w.begin(), w.end());
  g.y_dims.assign(y.begin(), y.end());
  if (spatial == 1) {
    // A unit height in front of the one spatial axis: a 2-D convolution with a 1-high window.
    g.x_dims.insert(g.x_dims.begin() + 2, 1);
    g.w_dims.insert(g.w_dims.begin() + 2, 1);
    g.y_dims.insert(g.y_dims.begin() + 2, 1);
    g.pre_pads.insert(g.pre_pads.begin(), 0);
    g.post_pads.insert(g.post_pads.begin(), 0);
    g.strides.insert(g.strides.begin(), 1);
    g.dilations.insert(g.dilations.begin(), 1);
  }
  g.bias_dims.assign(g.y_dims.size(), 1);
  g.bias_dims[1] = g.y_dims[1];
  g.x_strides = packed_strides(g.x_dims);
  g.w_strides = packed_strides(g.w_dims);
  g.y_strides = packed_strides(g.y_dims);
  g.bias_strides = packed_strides(g.bias_dims);
  return g;
}

}  // namespace kiln::cuda
