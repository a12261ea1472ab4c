// space_to_depth_stems: a channels-last 16-bit stride-2 stem over a few channels becomes a
// stride-1 convolution over 2x2 blocks with the same results (CPU before and after), for odd and
// even pads, non-square kernels and an input that is the NHWC Transpose of an NCHW image (one
// Transpose from the image); other convolutions stay.
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

struct Geometry {
  Shape w;                    // [K, kh, kw, C]
  std::vector<int64_t> pads;  // h begin, w begin, h end, w end
  int64_t stride = 2;
  int64_t dilation = 1;
};

Value* nhwc_conv(PassGraphBuilder& b, Value* x, const Geometry& g) {
  auto constant = [&](const Shape& s, float scale) { return b.weight(s, scale, x->dtype); };
  ir::Attributes a;
  a.set("strides", std::vector<int64_t>{g.stride, g.stride});
  a.set("dilations", std::vector<int64_t>{g.dilation, g.dilation});
  a.set("pads", g.pads);
  a.set(ir::kChannelsLastAttr, int64_t{1});
  return b.op("Conv", {x, constant(g.w, 0.05f), constant({g.w[0]}, 0.1f)}, a);
}

const ir::Node& conv_of(const ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (n->op == "Conv") return *n;
  }
  throw std::runtime_error("no Conv");
}

TEST(SpaceToDepthStem, ResNetStemBecomesAFourByFourStrideOneConvolution) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 16, 14, 3}, DataType::kFloat16);
  b.output(b.op("Relu", {nhwc_conv(b, x, {{5, 7, 7, 3}, {3, 3, 3, 3}})}));
  auto after = test::apply_and_compare(b.graph(), space_to_depth_stems, 2e-3);
  EXPECT_EQ(ops(*after),
            (std::vector<std::string>{"Reshape", "Transpose", "Reshape", "Conv", "Relu"}));
  const ir::Node& conv = conv_of(*after);
  EXPECT_EQ(conv.inputs[0]->shape, ir::to_sym_shape({2, 8, 7, 12}));
  EXPECT_EQ(conv.inputs[1]->constant->shape(), (Shape{5, 4, 4, 12}));
  EXPECT_EQ(conv.attrs.get_ints("strides"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv.attrs.get_ints("pads"), (std::vector<int64_t>{2, 2, 1, 1}));
}

TEST(SpaceToDepthStem, EvenPadsAndNonSquareKernelsKeepTheirResults) {
  for (const Geometry& g : {Geometry{{4, 6, 6, 5}, {2, 2, 2, 2}},     // even pads: no shift
                            Geometry{{4, 7, 5, 5}, {3, 2, 3, 2}},     // odd in h, even in w
                            Geometry{{4, 7, 7, 3}, {3, 3, 2, 2}},     // asymmetric
                            Geometry{{4, 7, 7, 3}, {0, 0, 0, 0}}}) {  // no padding
    PassGraphBuilder b;
    Value* x = b.input("x", {1, 12, 10, g.w[3]}, DataType::kFloat16);
    b.output(nhwc_conv(b, x, g));
    auto after = test::apply_and_compare(b.graph(), space_to_depth_stems, 2e-3);
    EXPECT_EQ(conv_of(*after).attrs.get_ints("strides"), (std::vector<int64_t>{1, 1}))
        << shape_to_string(g.w);
  }
}

TEST(SpaceToDepthStem, AnNhwcTransposeOfTheImageFoldsIntoTheRearrangement) {
  PassGraphBuilder b;
  Value* image = b.input("image", {2, 3, 16, 14}, DataType::kFloat16);
  ir::Attributes perm;
  perm.set("perm", std::vector<int64_t>{0, 2, 3, 1});
  Value* x = b.op("Transpose", {image}, perm);
  ir::infer_graph(b.graph());  // x's dtype, which the weights take
  b.output(nhwc_conv(b, x, {{5, 7, 7, 3}, {3, 3, 3, 3}}));
  auto after = test::apply_and_compare(b.graph(), space_to_depth_stems, 2e-3);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Reshape", "Transpose", "Reshape", "Conv"}));
  for (const auto& n : after->nodes()) {
    if (n->op == "Transpose") {
      EXPECT_EQ(n->attrs.get_ints("perm"), (std::vector<int64_t>{0, 2, 4, 3, 5, 1}));
    }
  }
}

TEST(SpaceToDepthStem, LeavesOtherConvolutions) {
  struct Case {
    Shape x;
    Geometry g;
    DataType dtype;
  };
  const DataType h = DataType::kFloat16;
  for (const Case& c :
       {Case{{1, 12, 12, 3}, {{4, 7, 7, 3}, {3, 3, 3, 3}}, DataType::kFloat32},  // FP32
        Case{{1, 13, 12, 3}, {{4, 7, 7, 3}, {3, 3, 3, 3}}, h},                   // odd height
        Case{{1, 12, 12, 3}, {{4, 7, 7, 3}, {3, 3, 3, 3}, 1}, h},                // stride 1
        Case{{1, 12, 12, 3}, {{4, 3, 3, 3}, {1, 1, 1, 1}, 2, 2}, h},             // dilated
        Case{{1, 12, 12, 3}, {{4, 3, 3, 3}, {1, 1, 1, 1}}, h},                   // small reduction
        Case{{1, 12, 12, 8}, {{4, 7, 7, 8}, {3, 3, 3, 3}}, h}})                  // a whole vector
  {
    PassGraphBuilder b;
    Value* x = b.input("x", ir::to_sym_shape(c.x), c.dtype);
    b.output(nhwc_conv(b, x, c.g));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(space_to_depth_stems(b.graph())) << shape_to_string(c.x);
  }
}

}  // namespace
}  // namespace kiln::passes
