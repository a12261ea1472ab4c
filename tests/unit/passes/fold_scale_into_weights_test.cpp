// fold_scale_into_weights on hand-built graphs: per-channel Mul/Div/Add/Sub after Conv and
// MatMul fold (and compute the same), a scalar after a runtime-weight MatMul becomes alpha, Mul by
// per-input-channel constants before Conv/MatMul folds, and what must not fold stays.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
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

Value* constant(Graph& g, Shape shape, uint32_t seed, float lo = 0.5f, float hi = 1.5f) {
  return g.add_constant(g.unique_value_name("c"), random_tensor(std::move(shape), seed, lo, hi));
}

TEST(FoldScaleIntoWeights, FoldsAChainOfPerChannelArithmeticAfterConv) {
  Graph g;
  Value* x = add_input(g, "x", {2, 3, 5, 5});
  Value* y = add_op(g, "Conv", {x, constant(g, {4, 3, 3, 3}, 1, -1, 1)});
  y = add_op(g, "Mul", {constant(g, {4, 1, 1}, 2), y});
  y = add_op(g, "Add", {y, constant(g, {1, 4, 1, 1}, 3)});
  y = add_op(g, "Sub", {y, constant(g, {}, 4)});
  y = add_op(g, "Div", {y, constant(g, {1}, 5)});
  y = add_op(g, "Sub", {constant(g, {4, 1, 1}, 6), y});
  g.outputs().push_back(y);
  double err = 0;
  EXPECT_TRUE(test::run_pass_and_compare(g, fold_scale_into_weights,
                                         {{"x", random_tensor({2, 3, 5, 5}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"Conv"}));
  EXPECT_LE(err, 1e-5);
  EXPECT_EQ(g.nodes()[0]->origins.size(), 6u);
}

TEST(FoldScaleIntoWeights, FoldsIntoMatMulAsFusedMatMulWithBias) {
  Graph g;
  Value* x = add_input(g, "x", {2, 4, 3});
  Value* y = add_op(g, "MatMul", {x, constant(g, {3, 5}, 1, -1, 1)});
  y = add_op(g, "Mul", {y, constant(g, {5}, 2)});
  y = add_op(g, "Add", {y, constant(g, {4, 5}, 3)});  // a full (M, N) bias is fine for MatMul
  g.outputs().push_back(y);
  double err = 0;
  EXPECT_TRUE(test::run_pass_and_compare(g, fold_scale_into_weights,
                                         {{"x", random_tensor({2, 4, 3}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"FusedMatMul"}));
  EXPECT_LE(err, 1e-5);
}

TEST(FoldScaleIntoWeights, ScalarAfterRuntimeMatMulBecomesAlpha) {
  // Attention scores: (Q x K^T) * 1/sqrt(d).
  Graph g;
  Value* q = add_input(g, "q", {2, 4, 8});
  Value* k = add_input(g, "k", {2, 8, 4});
  Value* y = add_op(g, "Mul", {add_op(g, "MatMul", {q, k}), constant(g, {}, 1)});
  g.outputs().push_back(y);
  double err = 0;
  EXPECT_TRUE(test::run_pass_and_compare(
      g, fold_scale_into_weights,
      {{"q", random_tensor({2, 4, 8}, 8)}, {"k", random_tensor({2, 8, 4}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"FusedMatMul"}));
  EXPECT_LE(err, 1e-5);
  EXPECT_NE(g.nodes()[0]->attrs.get_float("alpha", 1.0f), 1.0f);
}

TEST(FoldScaleIntoWeights, FoldsPerInputChannelMulBeforeConvAndMatMul) {
  Graph g;
  Value* x = add_input(g, "x", {1, 4, 5, 5});
  ir::Attributes a;
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("group", int64_t{2});
  Value* scaled = add_op(g, "Mul", {x, constant(g, {4, 1, 1}, 1)});
  g.outputs().push_back(add_op(g, "Conv", {scaled, constant(g, {6, 2, 3, 3}, 2, -1, 1)}, a));
  Value* h = add_input(g, "h", {3, 4});
  Value* hs = add_op(g, "Mul", {constant(g, {4}, 3), h});
  g.outputs().push_back(add_op(g, "MatMul", {hs, constant(g, {4, 2}, 4, -1, 1)}));
  double err = 0;
  EXPECT_TRUE(test::run_pass_and_compare(
      g, fold_scale_into_weights,
      {{"x", random_tensor({1, 4, 5, 5}, 8)}, {"h", random_tensor({3, 4}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"Conv", "MatMul"}));
  EXPECT_LE(err, 1e-5);
}

TEST(FoldScaleIntoWeights, KeepsWhatDoesNotFold) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 4, 4});
  Value* w = constant(g, {3, 2, 1, 1}, 1);
  // A constant that varies over space, not per channel.
  g.outputs().push_back(
      add_op(g, "Mul", {add_op(g, "Conv", {x, w}), constant(g, {1, 3, 4, 4}, 2)}));
  // A constant that would broadcast the output up.
  Value* small = add_op(g, "GlobalAveragePool", {x});
  g.outputs().push_back(
      add_op(g, "Add", {add_op(g, "Conv", {small, w}), constant(g, {1, 3, 2, 2}, 3)}));
  // The intermediate is read elsewhere too.
  Value* shared = add_op(g, "Conv", {x, w});
  g.outputs().push_back(add_op(g, "Mul", {shared, constant(g, {3, 1, 1}, 4)}));
  g.outputs().push_back(add_op(g, "Relu", {shared}));
  // Division by zero, and division of a constant by the layer.
  Tensor zeros(DataType::kFloat32, {3, 1, 1});
  g.outputs().push_back(add_op(g, "Div", {add_op(g, "Conv", {x, w}), g.add_constant("z", zeros)}));
  g.outputs().push_back(add_op(g, "Div", {constant(g, {3, 1, 1}, 5), add_op(g, "Conv", {x, w})}));
  // A per-column scale after a MatMul of two runtime operands.
  Value* a = add_input(g, "a", {2, 3});
  Value* b = add_input(g, "b", {3, 4});
  g.outputs().push_back(add_op(g, "Mul", {add_op(g, "MatMul", {a, b}), constant(g, {4}, 6)}));
  // A Mul before a Conv that broadcasts the input's channels up.
  Value* one_channel = add_input(g, "one", {1, 1, 4, 4});
  Value* up = add_op(g, "Mul", {one_channel, constant(g, {2, 1, 1}, 7)});
  g.outputs().push_back(add_op(g, "Conv", {up, w}));
  ir::infer_graph(g);
  size_t before = g.nodes().size();
  EXPECT_FALSE(fold_scale_into_weights(g));
  EXPECT_EQ(g.nodes().size(), before);
}

}  // namespace
}  // namespace kiln::passes
