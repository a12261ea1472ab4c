// The layout stage on hand-built graphs: which regions turn channels-last under each backend's
// policy, what a converted region looks like (KRSC weights, per-channel constants re-laid out,
// Concat axis, Transposes only at borders, boundaries at Flatten/Reshape/Gemm and at operands it
// cannot permute), that a channels-last source model ends with no Transposes, and that every
// rewrite keeps the graph's results.
#include "builder/choose_layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ir/op_registry.hpp"
#include "ir/op_traits.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::builder {
namespace {

using test::attrs;
using test::PassGraphBuilder;
using V = std::vector<int64_t>;

std::vector<float> ramp(size_t n, float scale = 0.01f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 37) % 101) - 0.5f;
  return v;
}

ir::Value* weight(PassGraphBuilder& b, Shape s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return b.constant(s, ramp(static_cast<size_t>(n)));
}

// The passes-as-function-pointer form apply_and_compare takes, one per policy.
bool cuda_auto(ir::Graph& g) {
  return choose_layout(g, LayoutPolicy::kChannelsLastAlways, Layout::kAuto).channels_last_regions >
         0;
}
bool cpu_auto(ir::Graph& g) {
  return choose_layout(g, LayoutPolicy::kChannelsLastWhereItSavesTransposes, Layout::kAuto)
             .channels_last_regions > 0;
}
bool cpu_nhwc(ir::Graph& g) {
  return choose_layout(g, LayoutPolicy::kChannelsLastWhereItSavesTransposes, Layout::kNhwc)
             .channels_last_regions > 0;
}

std::vector<const ir::Node*> nodes_of(const ir::Graph& g, const std::string& op) {
  std::vector<const ir::Node*> out;
  for (const auto& n : g.nodes()) {
    if (n->op == op) out.push_back(n.get());
  }
  return out;
}

int64_t count(const ir::Graph& g, const std::string& op) {
  return static_cast<int64_t>(nodes_of(g, op).size());
}

bool channels_last(const ir::Node* n) {
  return n->attrs.get_int("channels_last", 0) == 1;
}

Shape shape_of(const ir::Value* v) {
  return *ir::to_concrete(*v->shape);
}

// x -> Conv 3x2 -> Relu -> MaxPool -> Conv 1x1 -> Add [C,1,1] -> GlobalAveragePool -> Flatten
//   -> Gemm
void build_cnn(PassGraphBuilder& b) {
  ir::Value* x = b.input("x", {2, 3, 9, 8});
  ir::Value* c1 = b.op("Conv", {x, weight(b, {4, 3, 3, 2}), b.constant({4}, ramp(4))},
                       attrs({{"pads", V{1, 0, 1, 1}}}));
  ir::Value* r = b.op("Relu", {c1});
  ir::Value* p = b.op("MaxPool", {r}, attrs({{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}}));
  ir::Value* c2 = b.op("Conv", {p, weight(b, {6, 4, 1, 1})});
  ir::Value* a = b.op("Add", {c2, b.constant({6, 1, 1}, ramp(6, 0.3f))});
  ir::Value* g = b.op("GlobalAveragePool", {a});
  ir::Value* f = b.op("Flatten", {g}, attrs({{"axis", int64_t{1}}}));
  b.output(b.op("Gemm", {f, weight(b, {6, 5})}));
}

TEST(ChooseLayout, CudaRunsAConvRegionChannelsLast) {
  PassGraphBuilder b;
  build_cnn(b);
  auto after = test::apply_and_compare(b.graph(), cuda_auto, 1e-5);
  EXPECT_EQ(test::ops(*after),
            (std::vector<std::string>{"Transpose", "Conv", "Relu", "MaxPool", "Conv", "Add",
                                      "GlobalAveragePool", "Reshape", "Flatten", "Gemm"}));
  for (const char* op : {"Conv", "MaxPool", "GlobalAveragePool"}) {
    for (const ir::Node* n : nodes_of(*after, op)) EXPECT_TRUE(channels_last(n)) << op;
  }
  // KRSC weights, the per-channel constant along the last axis, the bias untouched.
  const ir::Node* conv1 = nodes_of(*after, "Conv")[0];
  EXPECT_EQ(shape_of(conv1->inputs[1]), (Shape{4, 3, 2, 3}));
  EXPECT_EQ(shape_of(conv1->inputs[2]), (Shape{4}));
  EXPECT_EQ(shape_of(conv1->outputs[0]), (Shape{2, 9, 8, 4}));
  EXPECT_EQ(shape_of(nodes_of(*after, "Add")[0]->inputs[1]), (Shape{6}));
  // The region's entry, and its exit: [N, 1, 1, C] -> [N, C, 1, 1] moves no data, so a Reshape.
  EXPECT_EQ(nodes_of(*after, "Transpose")[0]->attrs.get_ints("perm"), (V{0, 2, 3, 1}));
  const ir::Node* flatten = nodes_of(*after, "Flatten")[0];
  ASSERT_TRUE(flatten->inputs[0]->producer);
  EXPECT_EQ(flatten->inputs[0]->producer->op, "Reshape");
  EXPECT_EQ(shape_of(flatten->inputs[0]), (Shape{2, 6, 1, 1}));
}

TEST(ChooseLayout, CpuKeepsNchwForAnNchwModel) {
  PassGraphBuilder b;
  build_cnn(b);
  ir::infer_graph(b.graph());
  auto g = b.graph().clone();
  LayoutSummary s =
      choose_layout(*g, LayoutPolicy::kChannelsLastWhereItSavesTransposes, Layout::kAuto);
  EXPECT_EQ(s.regions, 1);
  EXPECT_EQ(s.channels_last_regions, 0);
  EXPECT_EQ(test::ops(*g), test::ops(b.graph()));
  EXPECT_EQ(count(*g, "Transpose"), 0);
  // And forcing NCHW on CUDA changes nothing either.
  EXPECT_EQ(
      choose_layout(*g, LayoutPolicy::kChannelsLastAlways, Layout::kNchw).channels_last_regions, 0);
  EXPECT_EQ(count(*g, "Transpose"), 0);
}

TEST(ChooseLayout, CpuForcedNhwcMatchesNchw) {
  PassGraphBuilder b;
  build_cnn(b);
  auto after = test::apply_and_compare(b.graph(), cpu_nhwc, 1e-5);
  EXPECT_EQ(count(*after, "Transpose"), 1);
  EXPECT_EQ(count(*after, "Reshape"), 1);
}

// A TF/Keras export: NHWC input -> Transpose(0,3,1,2) -> convs -> Transpose(0,2,3,1) -> NHWC out.
TEST(ChooseLayout, ChannelsLastSourceEndsWithNoTransposes) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {1, 10, 10, 3});
  ir::Value* t = b.op("Transpose", {x}, attrs({{"perm", V{0, 3, 1, 2}}}));
  ir::Value* s = b.op("Sub", {t, b.constant({3, 1, 1}, {0.1f, 0.2f, 0.3f})});
  ir::Value* c1 = b.op("Conv", {s, weight(b, {8, 3, 3, 3})}, attrs({{"pads", V{1, 1, 1, 1}}}));
  ir::Value* r = b.op("Relu", {c1});
  ir::Value* c2 = b.op("Conv", {r, weight(b, {8, 1, 3, 3})},
                       attrs({{"pads", V{1, 1, 1, 1}}, {"group", int64_t{8}}}));
  ir::Value* sum = b.op("Add", {c2, r});  // residual
  b.output(b.op("Transpose", {sum}, attrs({{"perm", V{0, 2, 3, 1}}})));
  auto after = test::apply_and_compare(b.graph(), cpu_auto, 1e-5);
  EXPECT_EQ(count(*after, "Transpose"), 0);
  EXPECT_EQ(test::ops(*after), (std::vector<std::string>{"Sub", "Conv", "Relu", "Conv", "Add"}));
  // The first conv reads the model's input (through Sub) with no transpose in between.
  EXPECT_EQ(nodes_of(*after, "Sub")[0]->inputs[0], after->inputs()[0]);
  EXPECT_EQ(after->outputs()[0]->name, b.graph().outputs()[0]->name);
}

// Keras again, but the model ends in Flatten + Gemm (NCHW order): no Transpose is left; the
// region's exit before Flatten is a 1x1-spatial tensor, so a Reshape.
TEST(ChooseLayout, ChannelsLastSourceIntoClassifierHead) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {2, 8, 8, 3});
  ir::Value* t = b.op("Transpose", {x}, attrs({{"perm", V{0, 3, 1, 2}}}));
  ir::Value* c = b.op("Conv", {t, weight(b, {5, 3, 3, 3})});
  ir::Value* g = b.op("GlobalAveragePool", {b.op("Relu", {c})});
  b.output(b.op("Flatten", {g}, attrs({{"axis", int64_t{1}}})));
  auto after = test::apply_and_compare(b.graph(), cpu_auto, 1e-5);
  EXPECT_EQ(test::ops(*after),
            (std::vector<std::string>{"Conv", "Relu", "GlobalAveragePool", "Reshape", "Flatten"}));
  EXPECT_EQ(nodes_of(*after, "Conv")[0]->inputs[0], after->inputs()[0]);
}

TEST(ChooseLayout, ConcatOnChannelsBecomesTheLastAxis) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  ir::Value* a = b.op("Conv", {x, weight(b, {3, 4, 1, 1})});
  ir::Value* c = b.op("Conv", {x, weight(b, {5, 4, 3, 3})}, attrs({{"pads", V{1, 1, 1, 1}}}));
  ir::Value* cat = b.op("Concat", {a, c}, attrs({{"axis", int64_t{1}}}));
  b.output(b.op("Conv", {cat, weight(b, {2, 8, 1, 1})}));
  auto after = test::apply_and_compare(b.graph(), cuda_auto, 1e-5);
  EXPECT_EQ(nodes_of(*after, "Concat")[0]->attrs.get_int("axis"), 3);
  EXPECT_EQ(count(*after, "Transpose"), 2);  // one entry (x, shared), one exit
}

TEST(ChooseLayout, ConcatOnAnotherAxisIsABoundary) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  ir::Value* a = b.op("Conv", {x, weight(b, {4, 4, 1, 1})});
  ir::Value* cat = b.op("Concat", {a, x}, attrs({{"axis", int64_t{2}}}));
  b.output(b.op("Relu", {cat}));
  auto after = test::apply_and_compare(b.graph(), cuda_auto, 1e-5);
  EXPECT_EQ(nodes_of(*after, "Concat")[0]->attrs.get_int("axis"), 2);
  EXPECT_FALSE(nodes_of(*after, "Concat")[0]->inputs[0]->producer->op == "Conv");
}

TEST(ChooseLayout, OperandsItCannotPermuteAreBoundaries) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 5, 5});
  b.input("scale", {4, 1, 1});  // runtime, rank 3: the Mul stays NCHW
  ir::Value* scale = b.graph().inputs().back();
  ir::Value* c = b.op("Conv", {x, weight(b, {4, 4, 3, 3})}, attrs({{"pads", V{1, 1, 1, 1}}}));
  ir::Value* m = b.op("Mul", {c, scale});
  ir::Value* w = b.input("w", {4, 4, 1, 1});  // runtime weight: the conv stays NCHW
  b.output(b.op("Conv", {m, w}));
  auto after = test::apply_and_compare(b.graph(), cuda_auto, 1e-5);
  std::vector<const ir::Node*> convs = nodes_of(*after, "Conv");
  EXPECT_TRUE(channels_last(convs[0]));
  EXPECT_FALSE(channels_last(convs[1]));
  EXPECT_EQ(nodes_of(*after, "Mul")[0]->inputs[1], after->inputs()[1]);  // no transpose
  EXPECT_EQ(count(*after, "Transpose"), 2);
}

TEST(ChooseLayout, FusedConvResidualFromOutsideAndOutputsInsideKeepTheirNames) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {2, 6, 4, 4});
  ir::Value* z = b.input("z", {2, 6, 4, 4});
  ir::Value* f = b.op("FusedConv", {x, weight(b, {6, 6, 3, 3}), b.constant({6}, ramp(6)), z},
                      attrs({{"pads", V{1, 1, 1, 1}}, {"activation", std::string("Relu")}}));
  ir::Value* r = b.op("Sigmoid", {f});
  b.output(f);  // read inside the region and as a graph output
  b.output(b.op("Conv", {r, weight(b, {3, 6, 1, 1})}));
  auto after = test::apply_and_compare(b.graph(), cuda_auto, 1e-5);
  EXPECT_EQ(after->outputs()[0]->name, f->name);
  EXPECT_EQ(after->outputs()[0]->producer->op, "Transpose");
  EXPECT_EQ(shape_of(after->outputs()[0]), (Shape{2, 6, 4, 4}));
  EXPECT_EQ(count(*after, "Transpose"), 4);  // x and z in; f and the last conv out
}

// Every op the op table marks layout-agnostic joins a convolution's channels-last region as it
// is, reading the convolution's NHWC output with no Transpose in between; an op that is not
// (Softmax, whose axis is a layout's) ends the region.
TEST(ChooseLayout, TheTablesLayoutAgnosticOpsJoinTheRegion) {
  // The layers choose_layout rewrites itself: their roles are not the table's.
  const std::set<std::string> own_roles = {"Conv",        "FusedConv",         "MaxPool",
                                           "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                                           "Concat"};
  int joined = 0;
  for (const std::string& op : ir::OpRegistry::instance().names()) {
    if (own_roles.count(op)) continue;
    const ir::OpSchema& schema = *ir::OpRegistry::instance().find(op);
    PassGraphBuilder b;
    ir::Value* x = b.input("x", {1, 4, 5, 5});
    ir::Value* c = b.op("Conv", {x, weight(b, {4, 4, 1, 1})});
    // Each input is the convolution's output; Cast gets a type to convert to.
    std::vector<ir::Value*> ins(static_cast<size_t>(std::max(schema.min_inputs, 1)), c);
    ir::Attributes a;
    if (op == "Cast") a.set("to", std::string("float16"));
    b.output(b.op(op, ins, a));
    try {
      ir::infer_graph(b.graph());
    } catch (const std::exception&) {
      continue;  // takes no float32 operands (Not, BitShift), or needs attributes (Pointwise)
    }
    LayoutSummary s = choose_layout(b.graph(), LayoutPolicy::kChannelsLastAlways, Layout::kAuto);
    const ir::Node* n = nodes_of(b.graph(), op).at(0);
    const bool after_conv = n->inputs[0]->producer && n->inputs[0]->producer->op == "Conv";
    EXPECT_EQ(after_conv, schema.traits.layout_agnostic) << op;
    EXPECT_EQ(s.channels_last_layers, schema.traits.layout_agnostic ? 2 : 1) << op;
    joined += after_conv ? 1 : 0;
  }
  EXPECT_GE(joined, 50);
  EXPECT_FALSE(ir::op_traits("Softmax").layout_agnostic);
}

TEST(ChooseLayout, RegionsWithoutConvolutionsAreLeftAlone) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  ir::Value* p = b.op("MaxPool", {b.op("Relu", {x})}, attrs({{"kernel_shape", V{2, 2}}}));
  b.output(p);
  ir::infer_graph(b.graph());
  LayoutSummary s = choose_layout(b.graph(), LayoutPolicy::kChannelsLastAlways, Layout::kNhwc);
  EXPECT_EQ(s.regions, 0);
  EXPECT_EQ(count(b.graph(), "Transpose"), 0);
}

TEST(ChooseLayout, PolicyTable) {
  RegionBorders none{0, 0, 2}, cancels{1, 0, 1}, costs{1, 0, 2}, neutral_only{0, 1, 1};
  EXPECT_TRUE(region_runs_channels_last(LayoutPolicy::kChannelsLastAlways, Layout::kAuto, none));
  EXPECT_FALSE(region_runs_channels_last(LayoutPolicy::kChannelsLastWhereItSavesTransposes,
                                         Layout::kAuto, none));
  EXPECT_TRUE(region_runs_channels_last(LayoutPolicy::kChannelsLastWhereItSavesTransposes,
                                        Layout::kAuto, cancels));
  EXPECT_FALSE(region_runs_channels_last(LayoutPolicy::kChannelsLastWhereItSavesTransposes,
                                         Layout::kAuto, costs));
  // A 1x1-spatial exit moves no data, but gives the CPU no reason to switch either.
  EXPECT_FALSE(region_runs_channels_last(LayoutPolicy::kChannelsLastWhereItSavesTransposes,
                                         Layout::kAuto, neutral_only));
  EXPECT_TRUE(region_runs_channels_last(LayoutPolicy::kChannelsLastWhereItSavesTransposes,
                                        Layout::kNhwc, none));
  EXPECT_FALSE(
      region_runs_channels_last(LayoutPolicy::kChannelsLastAlways, Layout::kNchw, cancels));
  EXPECT_EQ(parse_layout("NHWC"), Layout::kNhwc);
  EXPECT_EQ(parse_layout("auto"), Layout::kAuto);
  EXPECT_EQ(parse_layout("nchw"), Layout::kNchw);
  EXPECT_FALSE(parse_layout("chw").has_value());
}

}  // namespace
}  // namespace kiln::builder
