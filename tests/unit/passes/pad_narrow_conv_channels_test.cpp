// pad_narrow_conv_channels: a channels-last convolution over fewer channels than a 16-byte vector
// holds reads a zero-padded input through zero-padded weights, with the same results; wider,
// grouped and channels-first convolutions stay.
#include <gtest/gtest.h>

#include "build/precision_reformat.hpp"
#include "ir/op_registry.hpp"
#include "ir/ops/channels_last.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

// A channels-last Conv: x [N, H, W, C], w [K, R, S, C / group].
Value* nhwc_conv(PassGraphBuilder& b, Value* x, Shape w, int64_t group = 1, bool last = true) {
  std::vector<Value*> in = {
      x, b.constant(w, test::pattern_values(static_cast<size_t>(shape_numel(w)), 0.05f)),
      b.constant({w[0]}, test::pattern_values(static_cast<size_t>(w[0]), 0.1f))};
  ir::Attributes a;
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("group", group);
  if (last) a.set(ir::kChannelsLastAttr, int64_t{1});
  return b.op("Conv", in, a);
}

TEST(PadNarrowConvChannels, ThreeChannelsBecomeAVectorOfZeroPaddedOnes) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 9, 10, 3});
  b.output(b.op("Relu", {nhwc_conv(b, x, {5, 3, 3, 3})}));
  auto after = test::apply_and_compare(b.graph(), pad_narrow_conv_channels, 1e-6);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Pad", "Conv", "Relu"}));
  const ir::Node& conv = *after->nodes()[1];
  // Float32: four channels fill 16 bytes.
  EXPECT_EQ(conv.inputs[0]->shape->back().value, 4);
  const Tensor& w = *conv.inputs[1]->constant;
  ASSERT_EQ(w.shape(), (Shape{5, 3, 3, 4}));
  for (int64_t i = 0; i < shape_numel(w.shape()); i += 4) {
    EXPECT_EQ(w.data<float>()[i + 3], 0.f) << i;  // the added channel
  }
}

TEST(PadNarrowConvChannels, SixteenBitInputsPadToEight) {
  PassGraphBuilder b;
  Value* x = b.input("x", {1, 6, 6, 3}, DataType::kFloat16);
  b.output(nhwc_conv(b, x, {4, 3, 3, 3}));
  for (const auto& n : b.graph().nodes()) {  // FP16 weights and bias, as the builder makes them
    for (Value*& v : n->inputs) {
      if (v->is_constant()) {
        v = b.graph().add_constant(
            v->name + "_fp16", build::convert_weights(*v->constant, DataType::kFloat16, v->name));
      }
    }
  }
  ir::infer_graph(b.graph());
  ASSERT_TRUE(pad_narrow_conv_channels(b.graph()));
  const ir::Node& pad = *b.graph().nodes()[0];
  ASSERT_EQ(pad.op, "Pad");
  EXPECT_EQ(pad.outputs[0]->shape->back().value, 8);
  EXPECT_EQ(pad.outputs[0]->dtype, DataType::kFloat16);
}

TEST(PadNarrowConvChannels, LeavesWideGroupedAndChannelsFirstConvolutions) {
  struct Case {
    Shape x, w;
    int64_t group;
    bool channels_last;
  };
  for (const Case& c : {Case{{1, 6, 6, 8}, {4, 3, 3, 8}, 1, true},    // a whole vector already
                        Case{{1, 6, 6, 3}, {3, 3, 3, 1}, 3, true},    // depthwise
                        Case{{1, 3, 6, 6}, {4, 3, 3, 3}, 1, false}})  // NCHW
  {
    PassGraphBuilder b;
    Value* x = b.input("x", ir::to_sym_shape(c.x));
    b.output(nhwc_conv(b, x, c.w, c.group, c.channels_last));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(pad_narrow_conv_channels(b.graph())) << shape_to_string(c.x);
  }
}

}  // namespace
}  // namespace kiln::passes
