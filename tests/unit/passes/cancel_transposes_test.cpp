// cancel_transposes on hand-built graphs: Transpose and Reshape pairs fold, Transposes around
// elementwise layers cancel, results stay identical, and reshapes that copy dims are kept.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Dim;
using ir::Value;
using test::attrs;
using test::ops;
using test::PassGraphBuilder;

ir::Attributes perm(std::vector<int64_t> p) {
  return attrs({{"perm", p}});
}

TEST(CancelTransposes, InversePairsVanish) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3, 4});
  Value* t = b.op("Transpose", {b.op("Transpose", {x}, perm({1, 2, 0}))}, perm({2, 0, 1}));
  b.output(b.op("Relu", {t}));
  auto after = test::apply_and_compare(b.graph(), cancel_transposes, 0);
  EXPECT_EQ(ops(*after), std::vector<std::string>{"Relu"});
}

TEST(CancelTransposes, PairsComposeIntoOne) {
  PassGraphBuilder b;
  Value* x = b.input("x", {Dim::symbolic("batch"), 5, 4, 3});
  Value* t = b.op("Transpose", {b.op("Transpose", {x}, perm({0, 2, 1, 3}))}, perm({0, 1, 3, 2}));
  b.output(t);
  auto after = test::apply_and_compare(b.graph(), cancel_transposes, 0, {{"batch", 2}});
  ASSERT_EQ(ops(*after), std::vector<std::string>{"Transpose"});
  EXPECT_EQ(after->nodes()[0]->attrs.get_ints("perm"), (std::vector<int64_t>{0, 2, 3, 1}));
  EXPECT_EQ(after->outputs()[0]->name, t->name);
}

TEST(CancelTransposes, ReshapePairsFoldUnlessTheSecondCopiesDims) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3, 4});
  b.output(b.op("Reshape", {b.op("Reshape", {x, b.ints({6, 4})}), b.ints({4, -1})}));
  auto after = test::apply_and_compare(b.graph(), cancel_transposes, 0);
  EXPECT_EQ(ops(*after), std::vector<std::string>{"Reshape"});

  PassGraphBuilder keep;
  Value* y = keep.input("y", {2, 3, 4});
  keep.output(
      keep.op("Reshape", {keep.op("Reshape", {y, keep.ints({6, 4})}), keep.ints({0, 2, 2})}));
  ir::infer_graph(keep.graph());
  EXPECT_FALSE(cancel_transposes(keep.graph()));
}

TEST(CancelTransposes, TransposesAroundAnElementwiseLayerCancel) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3, 4});
  Value* t = b.op("Transpose", {x}, perm({2, 0, 1}));
  Value* e = b.op("Mul", {t, b.scalar(3.0f)});
  Value* y = b.op("Transpose", {e}, perm({1, 2, 0}));
  b.output(y);
  auto after = test::apply_and_compare(b.graph(), cancel_transposes, 0);
  EXPECT_EQ(ops(*after), std::vector<std::string>{"Mul"});
  EXPECT_EQ(after->outputs()[0]->name, y->name);
}

TEST(CancelTransposes, KeepsTransposesAroundLayersWithTensorOperands) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3});
  Value* bias = b.input("bias", {2});
  Value* t = b.op("Transpose", {x}, perm({1, 0}));
  b.output(b.op("Transpose", {b.op("Add", {t, bias})}, perm({1, 0})));
  ir::infer_graph(b.graph());
  EXPECT_FALSE(cancel_transposes(b.graph()));
}

}  // namespace
}  // namespace kiln::passes
