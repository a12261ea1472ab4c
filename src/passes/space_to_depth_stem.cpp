// A channels-last 16-bit stem convolution (stride 2, a large kernel over an image's few channels,
// ResNet's 7x7 on 3) becomes a stride-1 convolution over the space-to-depth rearrangement of its
// input: each 2x2 block of pixels becomes one pixel of 4C channels, and the kernel becomes
// ceil(k/2) x ceil(k/2) over those channels. The sums are the same products in another order; the
// work the matrix units see is a stride-1 convolution with four times the channels, which cuDNN
// runs far closer to their rate than a stride-2 one on 3 (the channel padding pass then widens 12
// channels to 16).
//
// Geometry per spatial axis, for input size H (even), kernel k, pads (b, e), output O: with
// a = b mod 2, input position 2u + t - a of the zero-padded input is block u's pixel t - a, so
// W'[., i, (p, q, c)] = W[., 2i + p - a, 2j + q - a, c] (zero outside the kernel) over
// ceil((k + a) / 2) taps, with (b + a) / 2 blocks of padding before and whatever makes O outputs
// after. The rearrangement itself is Reshape -> Transpose -> Reshape; when the input is the
// NCHW -> NHWC Transpose of the model's image, one Transpose from the image does both.
// `kiln build --disable-pass space_to_depth_stems` leaves every convolution alone (for
// comparisons).
#include <cstring>
#include <string>

#include "ir/ops/window.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

constexpr int64_t kNarrowChannels = 8;        // fewer than one 16-byte vector of 16-bit values
constexpr int64_t kMinReduction = 7 * 7 * 3;  // the matrix work's K: a 7x7 kernel on 3 channels

// One spatial axis of the rewritten convolution.
struct AxisPlan {
  int64_t shift = 0;      // a: the kernel's offset within the first block
  int64_t taps = 0;       // the new kernel's size
  int64_t pad_begin = 0;  // in blocks
  int64_t pad_end = 0;
};

std::optional<AxisPlan> plan_axis(int64_t size, int64_t kernel, int64_t pad_begin,
                                  int64_t pad_end) {
  if (size % 2 != 0 || pad_begin < 0 || pad_end < 0) return std::nullopt;
  const int64_t out = (size + pad_begin + pad_end - kernel) / 2 + 1;
  AxisPlan p;
  p.shift = pad_begin % 2;
  p.taps = (kernel + p.shift + 1) / 2;
  p.pad_begin = (pad_begin + p.shift) / 2;
  // Output o reads blocks o - pad_begin .. o - pad_begin + taps - 1 of size / 2.
  p.pad_end = out - 1 + p.taps - p.pad_begin - size / 2;
  if (p.pad_end < 0) return std::nullopt;
  return p;
}

struct StemPlan {
  AxisPlan h, w;
};

std::optional<StemPlan> plan_stem(const ir::Node& conv) {
  std::optional<ConvShapes> s = sixteen_bit_nhwc_conv(conv);
  if (!s || s->x.size() != 4) return std::nullopt;  // N, H, W, C
  const Shape& xs = s->x;
  const Shape& ws = s->w;
  const int64_t c = xs[3];
  if (c >= kNarrowChannels || ws[3] != c || ws[1] * ws[2] * c < kMinReduction) return std::nullopt;
  ir::WindowSpec spec;
  try {
    spec = ir::read_window_spec(conv, 2, {ws[1], ws[2]},
                                [](const std::string& m) { throw Error(ErrorCode::kInternal, m); });
  } catch (const Error&) {
    return std::nullopt;
  }
  if (spec.auto_pad != "NOTSET" || spec.strides != std::vector<int64_t>{2, 2} ||
      spec.dilations != std::vector<int64_t>{1, 1}) {
    return std::nullopt;
  }
  std::optional<AxisPlan> h = plan_axis(xs[1], spec.kernel[0], spec.pads[0], spec.pads[2]);
  std::optional<AxisPlan> w = plan_axis(xs[2], spec.kernel[1], spec.pads[1], spec.pads[3]);
  if (!h || !w) return std::nullopt;
  return StemPlan{*h, *w};
}

// W [K, kh, kw, C] (channels-last) as the stride-1 kernel over 2x2 blocks: [K, th, tw, 4C] with
// channel (p * 2 + q) * C + c, the order ONNX's SpaceToDepth and the rearrangement below use.
Tensor blocked_weights(const Tensor& w, const StemPlan& plan) {
  const Shape& s = w.shape();
  const int64_t k = s[0], kh = s[1], kw = s[2], c = s[3];
  const int64_t th = plan.h.taps, tw = plan.w.taps;
  const size_t es = element_size(w.dtype());
  std::vector<std::byte> bytes(static_cast<size_t>(k * th * tw * 4 * c) * es, std::byte{0});
  const auto* src = static_cast<const std::byte*>(w.raw());
  for (int64_t o = 0; o < k; ++o) {
    for (int64_t i = 0; i < th; ++i) {
      for (int64_t j = 0; j < tw; ++j) {
        for (int64_t p = 0; p < 2; ++p) {
          for (int64_t q = 0; q < 2; ++q) {
            const int64_t r = 2 * i + p - plan.h.shift;
            const int64_t t = 2 * j + q - plan.w.shift;
            if (r < 0 || r >= kh || t < 0 || t >= kw) continue;
            const int64_t from = ((o * kh + r) * kw + t) * c;
            const int64_t to = ((o * th + i) * tw + j) * 4 * c + (p * 2 + q) * c;
            std::memcpy(bytes.data() + static_cast<size_t>(to) * es,
                        src + static_cast<size_t>(from) * es, static_cast<size_t>(c) * es);
          }
        }
      }
    }
  }
  return Tensor::from_bytes(w.dtype(), {k, th, tw, 4 * c}, bytes);
}

// The 2x2 space-to-depth rearrangement of the NHWC input of `conv`: [N, H/2, W/2, 4C].
ir::Value* blocked_input(ir::Graph& g, ir::Node& conv) {
  ir::Value* x = conv.inputs[0];
  const Shape xs = *static_shape(x);
  const int64_t n = xs[0], h = xs[1], w = xs[2], c = xs[3];
  const std::string base = conv.name + "_space_to_depth";
  ir::Value* source = x;
  std::vector<int64_t> split{n, h / 2, 2, w / 2, 2, c};
  std::vector<int64_t> perm{0, 1, 3, 2, 4, 5};
  // The input is the NHWC Transpose of an NCHW tensor: rearrange that tensor directly, one copy.
  ir::Node* t = x->producer;
  if (t && t->op == "Transpose" && t->inputs.size() == 1 &&
      t->attrs.get_ints("perm", {}) == std::vector<int64_t>{0, 2, 3, 1} &&
      static_shape(t->inputs[0]) == Shape{n, c, h, w}) {
    source = t->inputs[0];
    split = {n, c, h / 2, 2, w / 2, 2};
    perm = {0, 2, 4, 3, 5, 1};
  }
  auto add = [&](const std::string& op, std::vector<ir::Value*> inputs, const Shape& shape) {
    ir::Value* out =
        g.add_value(g.unique_value_name(base + "_" + op), x->dtype, ir::to_sym_shape(shape));
    ir::Node* node = g.add_node(op, g.unique_node_name(base + "_" + op), std::move(inputs), {out});
    node->origins = conv.origins;
    copy_layer_precision(conv, *node);
    return std::pair{node, out};
  };
  auto [split_node, blocks] =
      add("Reshape", {source, add_int64_constant(g, base + "_blocks", split)}, Shape(split));
  (void)split_node;
  Shape moved(6);
  for (size_t i = 0; i < 6; ++i) moved[i] = split[static_cast<size_t>(perm[i])];
  auto [transpose, gathered] = add("Transpose", {blocks}, moved);
  transpose->attrs.set("perm", perm);
  const Shape out{n, h / 2, w / 2, 4 * c};
  return add("Reshape", {gathered, add_int64_constant(g, base + "_shape", out)}, out).second;
}

void rewrite(ir::Graph& g, ir::Node& conv, const StemPlan& plan) {
  ir::Value* w = conv.inputs[1];
  ir::Value* blocked = blocked_input(g, conv);
  conv.inputs[0] = blocked;  // tidy_after_rewrite puts the appended layers before the conv
  conv.inputs[1] = g.add_constant(g.unique_value_name(w->name + "_space_to_depth"),
                                  blocked_weights(*w->constant, plan));
  conv.attrs.set("kernel_shape", std::vector<int64_t>{plan.h.taps, plan.w.taps});
  conv.attrs.set("strides", std::vector<int64_t>{1, 1});
  conv.attrs.set("pads", std::vector<int64_t>{plan.h.pad_begin, plan.w.pad_begin, plan.h.pad_end,
                                              plan.w.pad_end});
}

}  // namespace

bool space_to_depth_stems(ir::Graph& graph) {
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (std::optional<StemPlan> plan = plan_stem(*n)) {
      rewrite(graph, *n, *plan);
      changed = true;
    }
  }
  if (changed) tidy_after_rewrite(graph);
  return changed;
}

}  // namespace kiln::passes
