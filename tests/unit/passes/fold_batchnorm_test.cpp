// fold_batchnorm on hand-built graphs: BN after Conv, grouped ConvTranspose, Gemm and MatMul
// folds (and computes the same), and BN that must stay: shared intermediates, training mode,
// runtime statistics, runtime weights, no linear producer.
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

// Appends BatchNormalization over `channels` with random statistics (positive variances).
Value* add_bn(Graph& g, Value* x, int64_t channels, uint32_t seed) {
  ir::Attributes a;
  a.set("epsilon", 1e-3f);
  return add_op(g, "BatchNormalization",
                {x, g.add_constant("scale", random_tensor({channels}, seed, 0.5f, 1.5f)),
                 g.add_constant("bias", random_tensor({channels}, seed + 1)),
                 g.add_constant("mean", random_tensor({channels}, seed + 2)),
                 g.add_constant("var", random_tensor({channels}, seed + 3, 0.5f, 1.5f))},
                a);
}

ir::Attributes ints(const std::string& name, std::vector<int64_t> v) {
  ir::Attributes a;
  a.set(name, std::move(v));
  return a;
}

TEST(FoldBatchnorm, FoldsIntoConvWithAndWithoutBias) {
  for (bool bias : {false, true}) {
    Graph g;
    Value* x = add_input(g, "x", {2, 3, 6, 6});
    std::vector<Value*> in{x, g.add_constant("w", random_tensor({4, 3, 3, 3}, 1))};
    if (bias) in.push_back(g.add_constant("b", random_tensor({4}, 2)));
    Value* y =
        add_op(g, "Relu", {add_bn(g, add_op(g, "Conv", in, ints("pads", {1, 1, 1, 1})), 4, 3)});
    g.outputs().push_back(y);
    double err = 0;
    EXPECT_TRUE(test::run_pass_and_compare(g, fold_batchnorm,
                                           {{"x", random_tensor({2, 3, 6, 6}, 9)}}, err));
    EXPECT_EQ(op_types(g), (Ops{"Conv", "Relu"}));
    EXPECT_LE(err, 1e-5);
    EXPECT_EQ(g.nodes()[0]->inputs.size(), 3u);
    EXPECT_NE(
        std::find(g.nodes()[0]->origins.begin(), g.nodes()[0]->origins.end(), "BatchNormalization"),
        g.nodes()[0]->origins.end());
  }
}

TEST(FoldBatchnorm, FoldsIntoGroupedConvTranspose) {
  Graph g;
  Value* x = add_input(g, "x", {1, 4, 3, 3});
  ir::Attributes a = ints("strides", {2, 2});
  a.set("group", int64_t{2});
  Value* y =
      add_op(g, "ConvTranspose", {x, g.add_constant("w", random_tensor({4, 3, 2, 2}, 1))}, a);
  g.outputs().push_back(add_bn(g, y, 6, 5));
  double err = 0;
  EXPECT_TRUE(
      test::run_pass_and_compare(g, fold_batchnorm, {{"x", random_tensor({1, 4, 3, 3}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"ConvTranspose"}));
  EXPECT_LE(err, 1e-5);
}

TEST(FoldBatchnorm, FoldsIntoGemmAndTwoDimensionalMatMul) {
  Graph g;
  Value* x = add_input(g, "x", {5, 3});
  ir::Attributes a;
  a.set("transB", int64_t{1});
  a.set("beta", 0.5f);
  Value* gemm = add_op(g, "Gemm",
                       {x, g.add_constant("w", random_tensor({4, 3}, 1)),
                        g.add_constant("c", random_tensor({4}, 2))},
                       a);
  g.outputs().push_back(add_bn(g, gemm, 4, 3));
  Value* mm = add_op(g, "MatMul", {x, g.add_constant("w2", random_tensor({3, 6}, 4))});
  g.outputs().push_back(add_bn(g, mm, 6, 5));
  double err = 0;
  EXPECT_TRUE(
      test::run_pass_and_compare(g, fold_batchnorm, {{"x", random_tensor({5, 3}, 9)}}, err));
  EXPECT_EQ(op_types(g), (Ops{"Gemm", "FusedMatMul"}));
  EXPECT_LE(err, 1e-5);
}

TEST(FoldBatchnorm, GraphOutputKeepsItsName) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 4, 4});
  Value* bn =
      add_bn(g, add_op(g, "Conv", {x, g.add_constant("w", random_tensor({2, 2, 1, 1}, 1))}), 2, 2);
  bn->name = "out";
  g.outputs().push_back(bn);
  ir::infer_graph(g);
  EXPECT_TRUE(fold_batchnorm(g));
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name, "out");
  EXPECT_EQ(g.outputs()[0]->producer, g.nodes()[0].get());
}

TEST(FoldBatchnorm, KeepsBatchnormThatCannotFold) {
  Graph g;
  Value* x = add_input(g, "x", {1, 2, 4, 4});
  Value* w = g.add_constant("w", random_tensor({2, 2, 1, 1}, 1));
  // 1. The conv output is also read by a Relu: folding would change what the Relu sees.
  Value* shared = add_op(g, "Conv", {x, w});
  g.outputs().push_back(add_bn(g, shared, 2, 2));
  g.outputs().push_back(add_op(g, "Relu", {shared}));
  // 2. Training mode.
  Value* bn_train = add_bn(g, add_op(g, "Conv", {x, w}), 2, 3);
  bn_train->producer->attrs.set("training_mode", int64_t{1});
  g.outputs().push_back(bn_train);
  // 3. Runtime statistics.
  Value* mean = add_input(g, "mean", {2});
  Value* bn_rt = add_bn(g, add_op(g, "Conv", {x, w}), 2, 4);
  bn_rt->producer->inputs[3] = mean;
  g.outputs().push_back(bn_rt);
  // 4. A runtime weight.
  Value* wr = add_input(g, "wr", {2, 2, 1, 1});
  g.outputs().push_back(add_bn(g, add_op(g, "Conv", {x, wr}), 2, 5));
  // 5. No linear producer.
  g.outputs().push_back(add_bn(g, add_op(g, "Relu", {x}), 2, 6));
  ir::infer_graph(g);
  size_t before = g.nodes().size();
  EXPECT_FALSE(fold_batchnorm(g));
  EXPECT_EQ(g.nodes().size(), before);
}

}  // namespace
}  // namespace kiln::passes
