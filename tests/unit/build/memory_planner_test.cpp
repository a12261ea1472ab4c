// The memory planner on hand-built graphs (views, in-place layers, what must not be overwritten),
// its safety check on tampered plans, and a simulation of random graphs that fails if any layer
// writes over bytes a later layer still reads.
#include "build/memory_planner.hpp"

#include <gtest/gtest.h>

#include <unordered_map>

#include "build/arena_layout.hpp"
#include "build/static_shapes.hpp"
#include "ir/op_registry.hpp"
#include "unit/build/random_graph_util.hpp"

namespace kiln::build {
namespace {

using ir::Graph;
using ir::Value;

Value* input(Graph& g, const std::string& name, ir::SymShape shape) {
  Value* v = g.add_value(name, DataType::kFloat32, std::move(shape));
  g.inputs().push_back(v);
  return v;
}

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

MemoryPlan plan_of(Graph& g, std::map<std::string, Shape> profile = {}) {
  ir::infer_graph(g);
  std::string why_not;
  auto shapes = evaluate_static_shapes(g, bind_input_shapes(g, profile), why_not);
  EXPECT_TRUE(shapes) << why_not;
  return plan_memory(g, *shapes);
}

const TensorPlacement& placed(const MemoryPlan& p, const std::string& name) {
  for (const TensorPlacement& t : p.tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no placement for " + name);
}

TEST(MemoryPlanner, ReluChainRunsInPlaceInOneBuffer) {
  Graph g;
  Value* x = input(g, "x", {4, 8});
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  Value* y = g.add_value("y");
  g.add_node("Relu", "r1", {x}, {a});
  g.add_node("Sigmoid", "r2", {a}, {b});
  g.add_node("Tanh", "r3", {b}, {y});
  g.outputs().push_back(y);
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(placed(p, "a").in_place_of, "");  // never over a graph input
  EXPECT_EQ(placed(p, "b").in_place_of, "a");
  EXPECT_EQ(placed(p, "y").in_place_of, "b");
  EXPECT_EQ(p.arena_bytes, 128u);
  EXPECT_EQ(p.lower_bound_bytes, 128u);
  EXPECT_EQ(p.total_bytes, 3 * 128u);
}

TEST(MemoryPlanner, ReshapesAreViewsThatKeepTheirSourceAlive) {
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* a = g.add_value("a");
  Value* r = g.add_value("r");
  Value* b = g.add_value("b");
  Value* y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {a});
  g.add_node("Reshape", "reshape", {a, g.add_constant("shape", ints({6, 4}))}, {r});
  g.add_node("Exp", "exp", {r}, {b});  // r (and so a) is still read below: not in place
  g.add_node("Add", "add", {b, r}, {y});
  g.outputs().push_back(y);
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(placed(p, "r").alias_of, "a");
  EXPECT_EQ(placed(p, "b").in_place_of, "");
  EXPECT_NE(placed(p, "b").offset, placed(p, "a").offset);
  EXPECT_FALSE(placed(p, "y").in_place_of.empty());
  EXPECT_EQ(p.arena_bytes, 2 * 128u);
  EXPECT_EQ(p.total_bytes, 4 * 96u);
}

TEST(MemoryPlanner, GraphOutputsAndInputsAreNeverOverwritten) {
  Graph g;
  Value* x = input(g, "x", {16});
  Value* a = g.add_value("a");
  Value* v = g.add_value("v");
  Value* b = g.add_value("b");
  g.add_node("Relu", "relu", {x}, {a});
  g.add_node("Identity", "view", {x}, {v});
  g.add_node("Neg", "neg", {a}, {b});
  g.outputs().push_back(a);
  g.outputs().push_back(b);
  g.outputs().push_back(v);
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(placed(p, "b").in_place_of, "");  // a is a graph output
  EXPECT_EQ(placed(p, "v").alias_of, "x");
  EXPECT_NE(placed(p, "a").offset, placed(p, "b").offset);
}

TEST(MemoryPlanner, SymbolicDimsDefaultToOneOrTakeTheProfile) {
  Graph g;
  Value* x = input(g, "x", {ir::Dim::symbolic("batch"), 10});
  Value* s = g.add_value("s");
  Value* r = g.add_value("r");
  Value* y = g.add_value("y");
  // Shape -> Reshape: the shape is computed from the input, as exporters write it.
  g.add_node("Shape", "shape", {x}, {s});
  g.add_node("Reshape", "reshape", {x, s}, {r});
  g.add_node("Relu", "relu", {r}, {y});
  g.outputs().push_back(y);
  MemoryPlan one = plan_of(g);
  EXPECT_EQ(one.input_shapes.at("x"), (Shape{1, 10}));
  EXPECT_EQ(placed(one, "y").bytes, 40u);
  MemoryPlan eight = plan_of(g, {{"x", {8, 10}}});
  EXPECT_EQ(placed(eight, "y").bytes, 320u);
  EXPECT_THROW(plan_of(g, {{"x", {8, 11}}}), Error);
  EXPECT_THROW(plan_of(g, {{"nope", {8, 10}}}), Error);
}

TEST(MemoryPlanner, DataDependentShapesGetNoPlan) {
  Graph g;
  Value* x = input(g, "x", {16});
  Value* nz = g.add_value("nz");
  g.add_node("NonZero", "nonzero", {x}, {nz});
  g.outputs().push_back(nz);
  ir::infer_graph(g);
  std::string why_not;
  EXPECT_FALSE(evaluate_static_shapes(g, bind_input_shapes(g, {}), why_not));
  EXPECT_NE(why_not.find("nz"), std::string::npos) << why_not;
}

class TamperedPlan : public ::testing::Test {
 protected:
  void SetUp() override {
    graph = std::make_unique<Graph>();
    Graph& g = *graph;
    Value* x = input(g, "x", {16});
    Value* a = g.add_value("a");
    Value* b = g.add_value("b");
    Value* r = g.add_value("r");
    Value* y = g.add_value("y");
    g.add_node("Relu", "relu", {x}, {a});
    g.add_node("Exp", "exp", {a}, {b});
    g.add_node("Reshape", "reshape", {b, g.add_constant("shape", ints({16}))}, {r});
    g.add_node("Add", "add", {a, r}, {y});
    g.outputs().push_back(y);
    plan = plan_of(g);
    ASSERT_EQ(memory_plan_problem(g, plan), "");
  }
  TensorPlacement& at(const std::string& name) {
    for (TensorPlacement& t : plan.tensors) {
      if (t.name == name) return t;
    }
    throw std::runtime_error(name);
  }
  std::string problem() const { return memory_plan_problem(*graph, plan); }
  std::unique_ptr<Graph> graph;
  MemoryPlan plan;
};

TEST_F(TamperedPlan, OverlappingLiveTensorsAreFound) {
  at("b").offset = at("a").offset;
  EXPECT_NE(problem().find("share bytes"), std::string::npos);
}

TEST_F(TamperedPlan, BadViewsAndInPlaceWritesAreFound) {
  at("b").in_place_of = "a";  // a is read again by the Add
  at("b").offset = at("a").offset;
  EXPECT_NE(problem().find("cannot overwrite"), std::string::npos);
  SetUp();
  at("y").alias_of = "a";  // an Add is no view
  EXPECT_NE(problem().find("cannot be a view"), std::string::npos);
}

TEST_F(TamperedPlan, MissingTensorsWrongSizesAndOutOfArenaOffsetsAreFound) {
  plan.tensors.pop_back();
  EXPECT_NE(problem().find("has no placement"), std::string::npos);
  SetUp();
  at("b").bytes = 8;
  EXPECT_NE(problem().find("is given 8"), std::string::npos);
  SetUp();
  at("b").offset = plan.arena_bytes;
  EXPECT_NE(problem().find("outside"), std::string::npos);
  SetUp();
  at("b").offset = 8;
  EXPECT_NE(problem().find("outside"), std::string::npos);  // misaligned
  SetUp();
  plan.arena_bytes *= 1000;
  EXPECT_NE(problem().find("larger than"), std::string::npos);
}

// Executes a plan symbolically: the arena holds, per 64-byte block, the id of the tensor whose
// bytes are there. A layer's inputs must still find their own bytes when it runs; then its
// outputs claim theirs. Views read their source's bytes; graph outputs must survive to the end.
void simulate(const Graph& g, const MemoryPlan& p) {
  std::unordered_map<std::string, const TensorPlacement*> by_name;
  for (const TensorPlacement& t : p.tensors) by_name[t.name] = &t;
  std::vector<int> arena(p.arena_bytes / kArenaAlignment + 1, -1);
  std::unordered_map<std::string, std::string> storage;  // tensor -> tensor whose bytes it reads
  std::unordered_map<std::string, int> id;
  auto storage_of = [&](const std::string& name) {
    auto it = storage.find(name);
    return it == storage.end() ? std::string() : it->second;  // "": an input or constant
  };
  auto check_intact = [&](const std::string& name, const std::string& when) {
    std::string s = storage_of(name);
    if (s.empty()) return;
    const TensorPlacement& t = *by_name.at(s);
    for (uint64_t b = t.offset / kArenaAlignment; b * kArenaAlignment < t.offset + t.bytes; ++b) {
      ASSERT_EQ(arena[b], id.at(s)) << "'" << name << "' was overwritten before " << when;
    }
  };
  for (const auto& n : g.nodes()) {
    for (const Value* v : n->inputs) {
      if (v) check_intact(v->name, n->name);
    }
    for (const Value* v : n->outputs) {
      const TensorPlacement& t = *by_name.at(v->name);
      if (!t.alias_of.empty()) {
        storage[v->name] = storage_of(t.alias_of);
        continue;
      }
      storage[v->name] = v->name;
      id[v->name] = static_cast<int>(id.size());
      for (uint64_t b = t.offset / kArenaAlignment; b * kArenaAlignment < t.offset + t.bytes; ++b) {
        arena[b] = id[v->name];
      }
    }
  }
  for (const Value* v : g.outputs()) check_intact(v->name, "the end");
}

TEST(MemoryPlanner, RandomGraphsNeverOverwriteLiveTensors) {
  std::mt19937 rng(2024);
  int views = 0, in_place = 0;
  for (int trial = 0; trial < 200; ++trial) {
    auto g = test::random_graph(rng, 5 + trial % 80);
    MemoryPlan p = plan_of(*g);
    ASSERT_EQ(memory_plan_problem(*g, p), "");
    simulate(*g, p);
    if (::testing::Test::HasFatalFailure()) FAIL() << "trial " << trial;
    EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
    for (const TensorPlacement& t : p.tensors) {
      views += !t.alias_of.empty();
      in_place += !t.in_place_of.empty();
    }
  }
  EXPECT_GT(views, 100);
  EXPECT_GT(in_place, 100);
}

}  // namespace
}  // namespace kiln::build
