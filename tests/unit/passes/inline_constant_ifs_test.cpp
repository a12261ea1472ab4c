// If with a build-time condition becomes the nodes of the branch it takes (captured values wired
// in, branch constants copied, graph output names kept); an If on a run-time condition stays.
#include <gtest/gtest.h>

#include <algorithm>

#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"
#include "passes/passes.hpp"

namespace kiln::passes {
namespace {

// A branch: one captured input x [2,3]; then = Relu(x) * 2, else = Neg(x).
std::shared_ptr<const ir::Graph> branch(bool then_side) {
  auto b = std::make_unique<ir::Graph>();
  ir::Value* x = b->add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  b->inputs() = {x};
  ir::Value* y = b->add_value("y");
  if (then_side) {
    ir::Value* r = b->add_value("r");
    ir::Value* two = b->add_constant(
        "two", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{2.0f}));
    b->add_node("Relu", "relu", {x}, {r});
    b->add_node("Mul", "double", {r, two}, {y});
  } else {
    b->add_node("Neg", "neg", {x}, {y});
  }
  b->outputs() = {y};
  ir::infer_graph(*b);
  return b;
}

struct IfGraph {
  ir::Graph g;
  ir::Value* a;
  ir::Node* node;
  explicit IfGraph(ir::Value* (*make_cond)(ir::Graph&)) {
    a = g.add_value("a", DataType::kFloat32, ir::SymShape{2, 3});
    g.inputs() = {a};
    ir::Value* c = make_cond(g);
    ir::Value* y = g.add_value("y");
    node = g.add_node("If", "guard", {c, a}, {y});
    node->attrs.set("then_branch", ir::GraphAttr(branch(true)));
    node->attrs.set("else_branch", ir::GraphAttr(branch(false)));
    node->attrs.set("num_captures", int64_t{1});
    g.outputs().push_back(y);
    ir::infer_graph(g);
  }
};

ir::Value* const_true(ir::Graph& g) {
  return g.add_constant("flag", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{1}));
}
ir::Value* const_false(ir::Graph& g) {
  return g.add_constant("flag", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{0}));
}
ir::Value* runtime_flag(ir::Graph& g) {
  ir::Value* f = g.add_value("flag", DataType::kBool, ir::SymShape{});
  g.inputs().push_back(f);
  return f;
}

TEST(InlineConstantIfs, TrueConditionInlinesThenBranchAndKeepsTheOutputName) {
  IfGraph s(const_true);
  EXPECT_TRUE(inline_constant_ifs(s.g));
  ir::verify_graph(s.g);
  ASSERT_EQ(s.g.nodes().size(), 2u);
  EXPECT_EQ(s.g.nodes()[0]->op, "Relu");
  EXPECT_EQ(s.g.nodes()[0]->inputs[0], s.a);
  EXPECT_EQ(s.g.nodes()[1]->op, "Mul");
  EXPECT_EQ(s.g.outputs()[0]->name, "y");
  EXPECT_EQ(s.g.outputs()[0]->producer, s.g.nodes()[1].get());
  EXPECT_TRUE(s.g.nodes()[1]->inputs[1]->is_constant());  // the branch constant, copied
  auto& origins = s.g.nodes()[1]->origins;
  EXPECT_NE(std::find(origins.begin(), origins.end(), "guard"), origins.end());
}

TEST(InlineConstantIfs, FalseConditionInlinesElseBranch) {
  IfGraph s(const_false);
  EXPECT_TRUE(inline_constant_ifs(s.g));
  ir::verify_graph(s.g);
  ASSERT_EQ(s.g.nodes().size(), 1u);
  EXPECT_EQ(s.g.nodes()[0]->op, "Neg");
  EXPECT_EQ(s.g.outputs()[0]->name, "y");
}

TEST(InlineConstantIfs, RuntimeConditionStays) {
  IfGraph s(runtime_flag);
  EXPECT_FALSE(inline_constant_ifs(s.g));
  ASSERT_EQ(s.g.nodes().size(), 1u);
  EXPECT_EQ(s.g.nodes()[0]->op, "If");
}

TEST(InlineConstantIfs, BranchReturningItsInputAsAGraphOutputGetsAnIdentity) {
  ir::Graph g;
  ir::Value* a = g.add_value("a", DataType::kFloat32, ir::SymShape{2});
  g.inputs() = {a};
  auto b = std::make_unique<ir::Graph>();
  ir::Value* x = b->add_value("x", DataType::kFloat32, ir::SymShape{2});
  b->inputs() = {x};
  b->outputs() = {x};
  std::shared_ptr<const ir::Graph> pass_through(std::move(b));
  ir::Value* y = g.add_value("y");
  ir::Node* n = g.add_node("If", "guard", {const_true(g), a}, {y});
  n->attrs.set("then_branch", ir::GraphAttr(pass_through));
  n->attrs.set("else_branch", ir::GraphAttr(pass_through));
  n->attrs.set("num_captures", int64_t{1});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  EXPECT_TRUE(inline_constant_ifs(g));
  ir::verify_graph(g);
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->op, "Identity");
  EXPECT_EQ(g.outputs()[0]->name, "y");
  EXPECT_EQ(g.nodes()[0]->inputs[0], a);
}

}  // namespace
}  // namespace kiln::passes
