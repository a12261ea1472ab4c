// The CUDA activation arena on hand-built graphs: views share their source's bytes and launch
// nothing, buffers alive at the same layer never overlap, dead buffers are reused, and graph
// inputs/outputs and constants stay out of the arena. Host-only: runs without a GPU.
#include "backends/cuda/activation_arena.hpp"

#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::cuda {
namespace {

using ir::Graph;
using ir::Value;

Value* input(Graph& g, const std::string& name, ir::SymShape shape) {
  Value* v = g.add_value(name, DataType::kFloat32, std::move(shape));
  g.inputs().push_back(v);
  return v;
}

size_t bytes_of(const ir::Value& v) {
  return static_cast<size_t>(shape_numel(*ir::to_concrete(*v.shape))) * element_size(v.dtype);
}

bool overlap(const ActivationArena& a, const Value* x, const Value* y) {
  size_t x0 = a.offset.at(x), x1 = x0 + bytes_of(*x);
  size_t y0 = a.offset.at(y), y1 = y0 + bytes_of(*y);
  return x0 < y1 && y0 < x1;
}

TEST(ActivationArena, ReshapeIsAViewOfItsInputAndLaunchesNothing) {
  Graph g;
  Value* x = input(g, "x", {2, 8});
  Value* a = g.add_value("a");
  Value* r = g.add_value("r");
  Value* y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {a});
  Value* shape =
      g.add_constant("shape", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{16}));
  ir::Node* reshape = g.add_node("Reshape", "reshape", {a, shape}, {r});
  g.add_node("Sigmoid", "sigmoid", {r}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  ActivationArena arena = plan_activation_arena(g, bytes_of);
  EXPECT_EQ(arena.views.count(reshape), 1u);
  EXPECT_EQ(arena.offset.at(r), arena.offset.at(a));
  EXPECT_EQ(arena.offset.count(x), 0u);  // bound by the caller
  EXPECT_EQ(arena.offset.count(y), 0u);
  EXPECT_EQ(arena.offset.count(shape), 0u);
  EXPECT_EQ(arena.views.size(), 1u);
}

TEST(ActivationArena, ViewOfAGraphInputOrFeedingAGraphOutputIsAnOrdinaryLayer) {
  Graph g;
  Value* x = input(g, "x", {2, 8});
  Value* r = g.add_value("r");
  Value* a = g.add_value("a");
  Value* y = g.add_value("y");
  Value* shape =
      g.add_constant("shape", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{16}));
  g.add_node("Reshape", "of_input", {x, shape}, {r});
  g.add_node("Relu", "relu", {r}, {a});
  g.add_node("Reshape", "to_output", {a, shape}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  ActivationArena arena = plan_activation_arena(g, bytes_of);
  EXPECT_TRUE(arena.views.empty());
  EXPECT_EQ(arena.offset.count(r), 1u);
}

TEST(ActivationArena, BuffersAliveTogetherNeverOverlapAndDeadOnesAreReused) {
  // x -> a -> b -> c -> d -> y, and a also feeds d (a residual): a lives until d.
  Graph g;
  Value* x = input(g, "x", {64, 64});
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  Value* c = g.add_value("c");
  Value* d = g.add_value("d");
  Value* y = g.add_value("y");
  g.add_node("Relu", "n1", {x}, {a});
  g.add_node("Sigmoid", "n2", {a}, {b});
  g.add_node("Tanh", "n3", {b}, {c});
  g.add_node("Add", "n4", {a, c}, {d});
  g.add_node("Relu", "n5", {d}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  ActivationArena arena = plan_activation_arena(g, bytes_of);
  EXPECT_FALSE(overlap(arena, a, b));
  EXPECT_FALSE(overlap(arena, a, c));
  EXPECT_FALSE(overlap(arena, b, c));
  EXPECT_FALSE(overlap(arena, a, d));
  EXPECT_FALSE(overlap(arena, c, d));
  // b is dead once c is written, so d can take its bytes: less than one buffer per activation.
  EXPECT_LT(arena.bytes, arena.unshared_bytes);
  EXPECT_EQ(arena.unshared_bytes, 4 * 64 * 64 * sizeof(float));
}

TEST(ActivationArena, AViewKeepsItsSourceAliveUntilTheViewsLastReader) {
  Graph g;
  Value* x = input(g, "x", {4, 16});
  Value* a = g.add_value("a");
  Value* r = g.add_value("r");
  Value* b = g.add_value("b");
  Value* c = g.add_value("c");
  Value* y = g.add_value("y");
  Value* shape = g.add_constant(
      "shape", Tensor::from_vector(DataType::kInt64, {2}, std::vector<int64_t>{4, 16}));
  g.add_node("Relu", "n1", {x}, {a});
  g.add_node("Reshape", "view", {a, shape}, {r});
  g.add_node("Sigmoid", "n2", {x}, {b});
  g.add_node("Tanh", "n3", {b}, {c});
  g.add_node("Add", "n4", {r, c}, {y});  // reads the view after b and c were written
  g.outputs().push_back(y);
  ir::infer_graph(g);
  ActivationArena arena = plan_activation_arena(g, bytes_of);
  EXPECT_FALSE(overlap(arena, a, b));
  EXPECT_FALSE(overlap(arena, a, c));
}

}  // namespace
}  // namespace kiln::cuda
