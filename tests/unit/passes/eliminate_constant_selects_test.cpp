// Where with a build-time condition becomes the branch it selects; mixed conditions and branches
// that broadcast stay.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"
#include "passes/passes.hpp"

namespace kiln::passes {
namespace {

struct SelectGraph {
  ir::Graph g;
  ir::Value* a;
  ir::Value* b;
  ir::Node* where;
  SelectGraph(std::vector<uint8_t> cond, ir::SymShape b_shape) {
    a = g.add_value("a", DataType::kFloat32, ir::SymShape{2, 3});
    b = g.add_value("b", DataType::kFloat32, std::move(b_shape));
    g.inputs() = {a, b};
    auto n = static_cast<int64_t>(cond.size());
    ir::Value* c = g.add_constant(
        "is_training", Tensor::from_vector(DataType::kBool, n == 1 ? Shape{} : Shape{2, 3}, cond));
    ir::Value* sel = g.add_value("sel");
    ir::Value* y = g.add_value("y");
    where = g.add_node("Where", "select", {c, a, b}, {sel});
    g.add_node("Relu", "relu", {sel}, {y});
    g.outputs().push_back(y);
    ir::infer_graph(g);
  }
};

TEST(EliminateConstantSelects, FalseConditionTakesTheSecondBranch) {
  SelectGraph s({0}, {2, 3});
  EXPECT_TRUE(eliminate_constant_selects(s.g));
  ASSERT_EQ(s.g.nodes().size(), 1u);
  EXPECT_EQ(s.g.nodes()[0]->inputs[0], s.b);
  ir::verify_graph(s.g);
}

TEST(EliminateConstantSelects, AllTrueTensorConditionTakesTheFirstBranch) {
  SelectGraph s({1, 1, 1, 1, 1, 1}, {2, 3});
  EXPECT_TRUE(eliminate_constant_selects(s.g));
  EXPECT_EQ(s.g.nodes()[0]->inputs[0], s.a);
}

TEST(EliminateConstantSelects, KeepsMixedConditionsAndBroadcastingBranches) {
  SelectGraph mixed({1, 0, 1, 1, 1, 1}, {2, 3});
  EXPECT_FALSE(eliminate_constant_selects(mixed.g));
  SelectGraph broadcast({0}, {3});  // b would be broadcast to [2,3]: not a drop-in replacement
  EXPECT_FALSE(eliminate_constant_selects(broadcast.g));
  EXPECT_EQ(broadcast.g.nodes().size(), 2u);
}

}  // namespace
}  // namespace kiln::passes
