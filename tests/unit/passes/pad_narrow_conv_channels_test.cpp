// pad_narrow_conv_channels: a channels-last 16-bit convolution with a large reduction over a few
// channels that do not fill whole 16-byte vectors reads a zero-padded input through zero-padded
// weights, with the same results; FP32, smaller-kernel, wider, grouped and channels-first
// convolutions stay.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "ir/ops/channels_last.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

// A channels-last Conv: x [N, H, W, C], w [K, R, S, C / group], FP16 weights when x is FP16 (as
// the builder makes them).
Value* nhwc_conv(PassGraphBuilder& b, Value* x, Shape w, int64_t group = 1, bool last = true) {
  auto constant = [&](const Shape& s, float scale) { return b.weight(s, scale, x->dtype); };
  ir::Attributes a;
  a.set("strides", std::vector<int64_t>{2, 2});
  const int64_t pad = w[1] / 2;
  a.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
  a.set("group", group);
  if (last) a.set(ir::kChannelsLastAttr, int64_t{1});
  return b.op("Conv", {x, constant(w, 0.05f), constant({w[0]}, 0.1f)}, a);
}

TEST(PadNarrowConvChannels, SixteenBitSevenBySevenStemReadsEightZeroPaddedChannels) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 15, 14, 3}, DataType::kFloat16);
  b.output(b.op("Relu", {nhwc_conv(b, x, {5, 7, 7, 3})}));
  auto after = test::apply_and_compare(b.graph(), pad_narrow_conv_channels, 1e-3);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Pad", "Conv", "Relu"}));
  const ir::Node& pad = *after->nodes()[0];
  EXPECT_EQ(pad.outputs[0]->shape->back().value, 8);
  EXPECT_EQ(pad.outputs[0]->dtype, DataType::kFloat16);
  const Tensor& w = *after->nodes()[1]->inputs[1]->constant;
  ASSERT_EQ(w.shape(), (Shape{5, 7, 7, 8}));
  const auto* halves = static_cast<const uint16_t*>(w.raw());
  for (int64_t i = 0; i < shape_numel(w.shape()); ++i) {
    if (i % 8 >= 3) EXPECT_EQ(halves[i], 0) << i;  // the added channels are +0
  }
}

// A space-to-depth stem's 12 channels (space_to_depth_stem.cpp) round up to two vectors.
TEST(PadNarrowConvChannels, TwelveChannelsOfASpaceToDepthStemPadToSixteen) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 8, 7, 12}, DataType::kFloat16);
  b.output(nhwc_conv(b, x, {5, 4, 4, 12}));
  auto after = test::apply_and_compare(b.graph(), pad_narrow_conv_channels, 1e-3);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Pad", "Conv"}));
  EXPECT_EQ(after->nodes()[0]->outputs[0]->shape->back().value, 16);
  EXPECT_EQ(after->nodes()[1]->inputs[1]->constant->shape(), (Shape{5, 4, 4, 16}));
}

TEST(PadNarrowConvChannels, LeavesOtherConvolutions) {
  struct Case {
    Shape x, w;
    DataType dtype;
    int64_t group;
    bool channels_last;
  };
  const DataType h = DataType::kFloat16;
  for (const Case& c : {Case{{1, 9, 9, 3}, {4, 7, 7, 3}, DataType::kFloat32, 1, true},  // FP32
                        Case{{1, 9, 9, 3}, {4, 3, 3, 3}, h, 1, true},    // a small kernel
                        Case{{1, 9, 9, 8}, {4, 7, 7, 8}, h, 1, true},    // a whole vector
                        Case{{1, 9, 9, 20}, {4, 3, 3, 20}, h, 1, true},  // a wide input
                        Case{{1, 9, 9, 3}, {3, 7, 7, 1}, h, 3, true},    // depthwise
                        Case{{1, 3, 9, 9}, {4, 3, 7, 7}, h, 1, false}})  // NCHW
  {
    PassGraphBuilder b;
    Value* x = b.input("x", ir::to_sym_shape(c.x), c.dtype);
    b.output(nhwc_conv(b, x, c.w, c.group, c.channels_last));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(pad_narrow_conv_channels(b.graph())) << shape_to_string(c.w);
  }
}

}  // namespace
}  // namespace kiln::passes
