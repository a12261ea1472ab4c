// collapse_view_chains: a Transpose that, with the rearranging layers before it, lays the elements
// out as their source does becomes one Reshape of the source (bit-identical results); chains that
// really move elements keep their Transposes.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

ir::Attributes perm(std::vector<int64_t> p) {
  ir::Attributes a;
  a.set("perm", p);
  return a;
}

TEST(CollapseViewChains, ChannelsLastTokensAreAReshape) {
  // [N, H, W, C] -> NCHW -> [N, C, HW] -> [N, HW, C]: the NHWC tensor read as [N, HW, C].
  PassGraphBuilder b;
  Value* nhwc = b.op("Relu", {b.input("x", {2, 3, 4, 5})});
  Value* nchw = b.op("Transpose", {nhwc}, perm({0, 3, 1, 2}));
  Value* flat = b.op("Reshape", {nchw, b.ints({2, 5, 12})});
  b.output(b.op("Transpose", {flat}, perm({0, 2, 1})));
  auto after = test::apply_and_compare(b.graph(), collapse_view_chains, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Relu", "Reshape"}));
}

TEST(CollapseViewChains, LeavesChainsThatMoveElements) {
  PassGraphBuilder b;
  Value* x = b.op("Relu", {b.input("x", {2, 3, 4, 5})});
  Value* t = b.op("Transpose", {x}, perm({0, 3, 1, 2}));
  Value* flat = b.op("Reshape", {t, b.ints({2, 5, 12})});
  b.output(b.op("Transpose", {flat}, perm({2, 0, 1})));  // not the source's order
  ir::infer_graph(b.graph());
  EXPECT_FALSE(collapse_view_chains(b.graph()));
}

TEST(CollapseViewChains, KeepsLayersOthersStillRead) {
  PassGraphBuilder b;
  Value* nhwc = b.op("Relu", {b.input("x", {2, 3, 4, 5})});
  Value* nchw = b.op("Transpose", {nhwc}, perm({0, 3, 1, 2}));
  Value* flat = b.op("Reshape", {nchw, b.ints({2, 5, 12})});
  b.output(b.op("Transpose", {flat}, perm({0, 2, 1})));
  b.output(b.op("Sigmoid", {nchw}));  // the NCHW copy is still needed here
  auto after = test::apply_and_compare(b.graph(), collapse_view_chains, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Relu", "Transpose", "Reshape", "Sigmoid"}));
}

}  // namespace
}  // namespace kiln::passes
