// Conv geometry for cuDNN from the same window helpers inference uses, so the CUDA kernel pads and
// strides exactly as the shapes were inferred.
#include "backends/cuda/conv_plan.hpp"

#include "core/error.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/ops/window.hpp"

namespace kiln::cuda {

std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(dims[i], 1);
  return s;
}

std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  if (dims.size() < 3) return packed_strides(dims);
  int64_t inner = std::max<int64_t>(dims[1], 1);  // C is innermost
  for (size_t i = dims.size(); i-- > 2;) {
    s[i] = inner;
    inner *= std::max<int64_t>(dims[i], 1);
  }
  s[0] = inner;
  return s;
}

ConvGeometry plan_conv(const ir::Node& node, const Shape& stored_x, const Shape& stored_w,
                       const Shape& stored_y) {
  const bool channels_last = node.attrs.get_int(ir::kChannelsLastAttr, 0) != 0;
  // cuDNN's dims are NCHW / KCRS in either layout; only the strides say where things are.
  const Shape x = channels_last ? ir::to_channels_first(stored_x) : stored_x;
  const Shape w = channels_last ? ir::to_channels_first(stored_w) : stored_w;
  const Shape y = channels_last ? ir::to_channels_first(stored_y) : stored_y;
  if (x.size() < 3) {
    fail(ErrorCode::kInvalidModel, node.describe(), ": a convolution input has rank 3 or more, ",
         "got ", shape_to_string(stored_x));
  }
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
  g.channels_last = channels_last;
  auto strides_of = channels_last ? channels_last_strides : packed_strides;
  g.x_strides = strides_of(g.x_dims);
  g.w_strides = strides_of(g.w_dims);
  g.y_strides = strides_of(g.y_dims);
  g.bias_strides = strides_of(g.bias_dims);
  return g;
}

}  // namespace kiln::cuda
