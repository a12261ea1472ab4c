// Conv geometry for cuDNN (host only, runs without a GPU): dims, packed strides, pads with
// auto_pad resolved, 1-D convolutions lifted to 2-D, and channels-last layers' NHWC strides.
#include "backends/cuda/conv_plan.hpp"

#include <gtest/gtest.h>

#include "ir/graph.hpp"
#include "kiln/types.hpp"

namespace kiln::cuda {
namespace {

using V = std::vector<int64_t>;

struct ConvNode {
  ir::Graph g;
  ir::Node* node;
  explicit ConvNode(const ir::Attributes& attrs) {
    node = g.add_node("Conv", "conv", {g.add_value("x"), g.add_value("w")}, {g.add_value("y")});
    for (const auto& [k, v] : attrs.all()) node->attrs.set(k, v);
  }
};

TEST(ConvPlan, TwoDimensionalWithPadsStridesDilationsAndGroups) {
  ir::Attributes a;
  a.set("pads", V{1, 2, 3, 4});
  a.set("strides", V{2, 1});
  a.set("dilations", V{1, 2});
  a.set("group", int64_t{4});
  ConvNode c(a);
  ConvGeometry g = plan_conv(*c.node, {2, 8, 9, 10}, {12, 2, 3, 3}, {2, 12, 6, 12});
  EXPECT_EQ(g.x_dims, (V{2, 8, 9, 10}));
  EXPECT_EQ(g.x_strides, (V{720, 90, 10, 1}));
  EXPECT_EQ(g.w_strides, (V{18, 9, 3, 1}));
  EXPECT_EQ(g.pre_pads, (V{1, 2}));
  EXPECT_EQ(g.post_pads, (V{3, 4}));
  EXPECT_EQ(g.strides, (V{2, 1}));
  EXPECT_EQ(g.dilations, (V{1, 2}));
  EXPECT_EQ(g.groups, 4);
  EXPECT_EQ(g.bias_dims, (V{1, 12, 1, 1}));
  EXPECT_EQ(g.bias_strides, (V{12, 1, 1, 1}));
}

TEST(ConvPlan, ResolvesSameUpperAutoPad) {
  ir::Attributes a;
  a.set("auto_pad", std::string("SAME_UPPER"));
  a.set("strides", V{2, 2});
  ConvNode c(a);
  // in 7, stride 2, kernel 4: out 4, total pad (4-1)*2+4-7 = 3 -> 1 before, 2 after.
  ConvGeometry g = plan_conv(*c.node, {1, 3, 7, 7}, {5, 3, 4, 4}, {1, 5, 4, 4});
  EXPECT_EQ(g.pre_pads, (V{1, 1}));
  EXPECT_EQ(g.post_pads, (V{2, 2}));
}

TEST(ConvPlan, LiftsOneDimensionalToTwo) {
  ir::Attributes a;
  a.set("pads", V{1, 2});
  a.set("strides", V{3});
  ConvNode c(a);
  ConvGeometry g = plan_conv(*c.node, {2, 4, 11}, {6, 4, 3}, {2, 6, 4});
  EXPECT_EQ(g.x_dims, (V{2, 4, 1, 11}));
  EXPECT_EQ(g.w_dims, (V{6, 4, 1, 3}));
  EXPECT_EQ(g.y_dims, (V{2, 6, 1, 4}));
  EXPECT_EQ(g.pre_pads, (V{0, 1}));
  EXPECT_EQ(g.post_pads, (V{0, 2}));
  EXPECT_EQ(g.strides, (V{1, 3}));
  EXPECT_EQ(g.dilations, (V{1, 1}));
  EXPECT_EQ(g.spatial(), 2u);
}

TEST(ConvPlan, RefusesFourSpatialAxes) {
  ConvNode c(ir::Attributes{});
  try {
    plan_conv(*c.node, {1, 1, 2, 2, 2, 2}, {1, 1, 1, 1, 1, 1}, {1, 1, 2, 2, 2, 2});
    ADD_FAILURE() << "accepted 4 spatial axes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("conv"), std::string::npos) << e.what();
  }
}

TEST(ConvPlan, ChannelsLastKeepsNchwDimsWithNhwcStrides) {
  ir::Attributes a;
  a.set("channels_last", int64_t{1});
  a.set("pads", V{1, 1, 1, 1});
  a.set("group", int64_t{2});
  ConvNode c(a);
  // Stored x [N, H, W, C] = [2, 9, 10, 8], w [K, R, S, C/g] = [12, 3, 3, 4], y [2, 9, 10, 12].
  ConvGeometry g = plan_conv(*c.node, {2, 9, 10, 8}, {12, 3, 3, 4}, {2, 9, 10, 12});
  EXPECT_TRUE(g.channels_last);
  EXPECT_EQ(g.x_dims, (V{2, 8, 9, 10}));
  EXPECT_EQ(g.x_strides, (V{720, 1, 80, 8}));  // [HWC, 1, WC, C]
  EXPECT_EQ(g.w_dims, (V{12, 4, 3, 3}));
  EXPECT_EQ(g.w_strides, (V{36, 1, 12, 4}));  // [RSC, 1, SC, C]
  EXPECT_EQ(g.y_dims, (V{2, 12, 9, 10}));
  EXPECT_EQ(g.y_strides, (V{1080, 1, 120, 12}));
  EXPECT_EQ(g.bias_dims, (V{1, 12, 1, 1}));
  EXPECT_EQ(g.bias_strides, (V{12, 1, 12, 12}));
  EXPECT_EQ(g.pre_pads, (V{1, 1}));
  EXPECT_EQ(g.groups, 2);
}

TEST(ConvPlan, ChannelsLastOneDimensionalGetsAUnitHeight) {
  ir::Attributes a;
  a.set("channels_last", int64_t{1});
  ConvNode c(a);
  // Stored x [N, W, C] = [2, 11, 4], w [K, S, C] = [6, 3, 4], y [2, 9, 6].
  ConvGeometry g = plan_conv(*c.node, {2, 11, 4}, {6, 3, 4}, {2, 9, 6});
  EXPECT_EQ(g.x_dims, (V{2, 4, 1, 11}));
  EXPECT_EQ(g.x_strides, (V{44, 1, 44, 4}));
  EXPECT_EQ(g.w_dims, (V{6, 4, 1, 3}));
  EXPECT_EQ(g.w_strides, (V{12, 1, 12, 4}));
  EXPECT_EQ(g.y_strides, (V{54, 1, 54, 6}));
}

}  // namespace
}  // namespace kiln::cuda
