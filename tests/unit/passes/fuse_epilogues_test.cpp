// fuse_epilogues on hand-built graphs: ResNet and transformer epilogues fuse into FusedConv /
// FusedMatMul (and compute the same), SiLU is recognised, origins and output names survive, and
// intermediates read elsewhere or leaving the graph are never swallowed.
#include <gtest/gtest.h>

#include "ir/activation.hpp"
#include "ir/op_registry.hpp"
#include "passes/pass_manager.hpp"
#include "passes/passes.hpp"
#include "unit/graph_run_util.hpp"

namespace kiln::passes {
namespace {

using ir::Graph;
using ir::Value;
using test::add_input;
using test::add_op;
using test::op_types;
using test::random_tensor;

using Ops = std::vector<std::string>;

Value* constant(Graph& g, Shape shape, uint32_t seed) {
  return g.add_constant(g.unique_value_name("c"), random_tensor(std::move(shape), seed));
}

ir::Attributes pads1() {
  ir::Attributes a;
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  return a;
}

TEST(FuseEpilogues, ResNetBasicBlockBecomesTwoLayers) {
  // relu(conv2(relu(conv1(x) + b1)) + x)
  Graph g;
  Value* x = add_input(g, "x", {ir::Dim::symbolic("batch"), 4, 6, 6});
  Value* h = add_op(g, "Conv", {x, constant(g, {4, 4, 3, 3}, 1), constant(g, {4}, 2)}, pads1());
  h = add_op(g, "Relu", {h});
  Value* y = add_op(g, "Conv", {h, constant(g, {4, 4, 3, 3}, 3)}, pads1());
  y = add_op(g, "Relu", {add_op(g, "Add", {y, x})});
  g.outputs().push_back(y);
  double err = 0;
  EXPECT_TRUE(
      test::run_pass_and_compare(g, fuse_epilogues, {{"x", random_tensor({2, 4, 6, 6}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"FusedConv", "FusedConv"}));
  EXPECT_LE(err, 1e-5);
  const ir::Node& second = *g.nodes()[1];
  EXPECT_EQ(second.inputs[3], x);
  EXPECT_EQ(second.attrs.get_int("residual_before_activation"), 1);
  EXPECT_EQ(ir::read_activation(second.attrs).kind, ir::ActivationKind::kRelu);
  EXPECT_EQ(second.origins, (std::vector<std::string>{"Conv_1", "Add", "Relu_1"}));
}

TEST(FuseEpilogues, TransformerFeedForwardWithResidualAfterActivation) {
  // x + gelu(x W1 + b1) — the residual after the activation — and a bias-only projection.
  Graph g;
  Value* x = add_input(g, "x", {2, 3, 8});
  Value* h =
      add_op(g, "Add", {add_op(g, "MatMul", {x, constant(g, {8, 8}, 1)}), constant(g, {8}, 2)});
  h = add_op(g, "Gelu", {h});
  g.outputs().push_back(add_op(g, "Add", {x, h}));
  g.outputs().push_back(
      add_op(g, "Add", {constant(g, {4}, 4), add_op(g, "MatMul", {x, constant(g, {8, 4}, 3)})}));
  double err = 0;
  EXPECT_TRUE(
      test::run_pass_and_compare(g, fuse_epilogues, {{"x", random_tensor({2, 3, 8}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"FusedMatMul", "FusedMatMul"}));
  EXPECT_LE(err, 1e-5);
  EXPECT_EQ(g.nodes()[0]->attrs.get_int("residual_before_activation"), 0);
  EXPECT_EQ(g.nodes()[0]->attrs.get_string("activation"), "Gelu");
}

TEST(FuseEpilogues, RecognisesSiluAndGemm) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 4, 4});
  Value* c = add_op(g, "Conv", {x, constant(g, {3, 2, 1, 1}, 1)});
  g.outputs().push_back(add_op(g, "Mul", {add_op(g, "Sigmoid", {c}), c}));
  Value* a = add_input(g, "a", {3, 5});
  ir::Attributes ga;
  ga.set("transB", int64_t{1});
  ga.set("beta", 2.0f);
  Value* gemm = add_op(g, "Gemm", {a, constant(g, {4, 5}, 2), constant(g, {4}, 3)}, ga);
  g.outputs().push_back(add_op(g, "Clip", {gemm, nullptr, constant(g, {}, 4)}));
  double err = 0;
  EXPECT_TRUE(test::run_pass_and_compare(
      g, fuse_epilogues, {{"x", random_tensor({1, 2, 4, 4}, 8)}, {"a", random_tensor({3, 5}, 9)}},
      err));
  EXPECT_EQ(op_types(g), (Ops{"FusedConv", "FusedMatMul"}));
  EXPECT_LE(err, 1e-5);
  EXPECT_EQ(g.nodes()[0]->attrs.get_string("activation"), "Silu");
  EXPECT_FALSE(g.nodes()[1]->attrs.has("beta"));
}

TEST(FuseEpilogues, ResidualReadElsewhereIsFineAndOutputNamesStay) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 3, 3});
  Value* z = add_op(g, "Sigmoid", {x});
  Value* y = add_op(g, "Add", {add_op(g, "Conv", {x, constant(g, {2, 2, 1, 1}, 1)}), z});
  y = add_op(g, "Relu", {y});
  y->name = "out";
  g.outputs().push_back(y);
  g.outputs().push_back(add_op(g, "Tanh", {z}));  // the residual has another reader
  double err = 0;
  EXPECT_TRUE(
      test::run_pass_and_compare(g, fuse_epilogues, {{"x", random_tensor({1, 2, 3, 3}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"Sigmoid", "FusedConv", "Tanh"}));
  EXPECT_LE(err, 1e-6);
  EXPECT_EQ(g.outputs()[0]->name, "out");
  EXPECT_EQ(g.outputs()[0]->producer->op, "FusedConv");
}

TEST(FuseEpilogues, NeverSwallowsSharedOrOutputIntermediates) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 3, 3});
  Value* w = constant(g, {2, 2, 1, 1}, 1);
  // The conv output is read by the Relu and by a Tanh.
  Value* shared = add_op(g, "Conv", {x, w});
  g.outputs().push_back(add_op(g, "Relu", {shared}));
  g.outputs().push_back(add_op(g, "Tanh", {shared}));
  // The conv output is a graph output itself.
  Value* out = add_op(g, "Conv", {x, w});
  g.outputs().push_back(out);
  g.outputs().push_back(add_op(g, "Relu", {out}));
  // The Sigmoid of a SiLU is read elsewhere.
  Value* c = add_op(g, "Conv", {x, w});
  Value* s = add_op(g, "Sigmoid", {c});
  g.outputs().push_back(add_op(g, "Mul", {c, s}));
  g.outputs().push_back(s);
  // y + y is no residual; a Clip bound known only at run time is no activation.
  Value* c2 = add_op(g, "Conv", {x, w});
  g.outputs().push_back(add_op(g, "Add", {c2, c2}));
  Value* hi = add_input(g, "hi", {});
  g.outputs().push_back(add_op(g, "Clip", {add_op(g, "Conv", {x, w}), nullptr, hi}));
  // A residual of another shape (broadcast) and a MatMul with a 1-D operand.
  Value* bcast = add_input(g, "b", {1, 2, 1, 1});
  g.outputs().push_back(add_op(g, "Add", {add_op(g, "Conv", {x, w}), bcast}));
  Value* v = add_input(g, "v", {3});
  g.outputs().push_back(add_op(g, "Relu", {add_op(g, "MatMul", {v, constant(g, {3, 2}, 2)})}));
  ir::infer_graph(g);
  size_t before = g.nodes().size();
  EXPECT_FALSE(fuse_epilogues(g));
  EXPECT_EQ(g.nodes().size(), before);
}

TEST(FuseEpilogues, DefaultPassesFoldAndFuseConvBatchnormRelu) {
  Graph g;
  Value* x = add_input(g, "x", {1, 3, 5, 5});
  Value* y = add_op(g, "Conv", {x, constant(g, {4, 3, 3, 3}, 1)}, pads1());
  y = add_op(g, "BatchNormalization",
             {y, constant(g, {4}, 2), constant(g, {4}, 3), constant(g, {4}, 4),
              g.add_constant("var", random_tensor({4}, 5, 0.5f, 1.5f))});
  y = add_op(
      g, "Clip",
      {y, g.add_constant("lo", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0})),
       g.add_constant("hi", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{6}))});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  auto run_all = [](Graph& graph) {
    PassManager(default_passes(3)).run(graph);
    return true;
  };
  double err = 0;
  test::run_pass_and_compare(g, +run_all, {{"x", random_tensor({1, 3, 5, 5}, 9)}}, err);
  EXPECT_EQ(op_types(g), (Ops{"FusedConv"}));
  EXPECT_EQ(ir::to_string(ir::read_activation(g.nodes()[0]->attrs)), "Clip(0, 6)");
  EXPECT_LE(err, 1e-5);
}

}  // namespace
}  // namespace kiln::passes
