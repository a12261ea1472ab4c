// A channels-last 16-bit convolution reading a few input channels that do not fill whole 16-byte
// vectors (an image's 3 channels into a 7x7 stem, or the 12 of a space-to-depth stem) gets them
// padded with zeros to whole vectors: a Pad of the input's channel axis, and weights [K, R, S, C]
// padded alike. The zero channels add nothing to any sum, so the results are the same; what
// changes is the cuDNN kernel that runs it. Measured on an H100 at batch 64 (FP16): ResNet-50's
// 7x7 stem takes 0.317 ms padded against 0.383 ms on 3 channels, more than the pad costs;
// EfficientNet-B0's 3x3 stem gains 4 us, less than the pad costs, so only convolutions whose
// reduction (kernel taps x channels) is at least a 7x7 kernel's on 3 channels are padded, as are
// no FP32 ones (unmeasured). `kiln build --disable-pass pad_narrow_conv_channels` leaves every
// convolution alone (for comparisons).
#include <cstddef>
#include <cstring>
#include <string>

#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

constexpr int64_t kMinReduction = 7 * 7 * 3;  // where the measured gain outweighs the pad

// The channel count `conv`'s input is padded to, or 0 to leave it.
int64_t padded_channels(const ir::Node& conv) {
  std::optional<ConvShapes> s = sixteen_bit_nhwc_conv(conv);
  if (!s) return 0;
  int64_t taps = 1;  // the kernel's spatial size
  for (size_t i = 1; i + 1 < s->w.size(); ++i) taps *= s->w[i];
  const int64_t vector = 16 / static_cast<int64_t>(element_size(conv.inputs[0]->dtype));
  const int64_t c = s->x.back();
  // Narrow inputs only: padding a wide activation costs more than a whole vector could gain.
  if (c % vector == 0 || c >= 2 * vector || s->w.back() != c || taps * c < kMinReduction) return 0;
  return (c + vector - 1) / vector * vector;
}

// `w` [K, spatial..., C] with its innermost axis zero-padded to `to`.
Tensor pad_innermost(const Tensor& w, int64_t to) {
  Shape shape = w.shape();
  const int64_t c = shape.back();
  const size_t es = element_size(w.dtype());
  const int64_t rows = shape_numel(shape) / c;
  shape.back() = to;
  std::vector<std::byte> bytes(static_cast<size_t>(rows * to) * es, std::byte{0});
  const auto* src = static_cast<const std::byte*>(w.raw());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(bytes.data() + static_cast<size_t>(r * to) * es,
                src + static_cast<size_t>(r * c) * es, static_cast<size_t>(c) * es);
  }
  return Tensor::from_bytes(w.dtype(), shape, bytes);
}

void pad(ir::Graph& g, ir::Node* conv, int64_t to) {
  ir::Value* x = conv->inputs[0];
  ir::Value* w = conv->inputs[1];
  Shape xs = *static_shape(x);
  const int64_t rank = static_cast<int64_t>(xs.size());
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  pads.back() = to - xs.back();  // after the last channel
  xs.back() = to;
  ir::Value* padded = g.add_value(g.unique_value_name(x->name + "_padded_channels"), x->dtype,
                                  ir::to_sym_shape(xs));
  ir::Value* pads_value = add_int64_constant(g, conv->name + "_channel_pads", pads);
  ir::Node* p = g.add_node("Pad", g.unique_node_name(conv->name + "_pad_channels"), {x, pads_value},
                           {padded});
  p->origins = conv->origins;
  copy_layer_precision(*conv, *p);  // 16-bit: the layers this pass pads
  ir::Value* wide = g.add_constant(g.unique_value_name(w->name + "_padded_channels"),
                                   pad_innermost(*w->constant, to));
  conv->inputs[0] = padded;  // tidy_after_rewrite puts the appended Pad before the conv
  conv->inputs[1] = wide;
}

}  // namespace

bool pad_narrow_conv_channels(ir::Graph& graph) {
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (int64_t to = padded_channels(*n)) {
      pad(graph, n, to);
      changed = true;
    }
  }
  if (changed) tidy_after_rewrite(graph);
  return changed;
}

}  // namespace kiln::passes
