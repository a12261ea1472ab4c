// The activation memory plan in plan files: it round trips (Concat inputs written into their
// slices and graph outputs kept in the caller's buffers included), plans without it still load, and
// a plan whose memory layout would let layers overwrite live tensors, or whose concat slices are
// out of place, is refused.
#include <gtest/gtest.h>

#include <set>

#include "builder/memory_planner.hpp"
#include "builder/static_shapes.hpp"
#include "core/error.hpp"
#include "ir/op_registry.hpp"
#include "plan/plan_file.hpp"

namespace kiln::plan {
namespace {

std::unique_ptr<ir::Graph> chain() {
  auto g = std::make_unique<ir::Graph>();
  g->name = "chain";
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("n"), 32});
  g->inputs().push_back(x);
  ir::Value* a = g->add_value("a");
  ir::Value* b = g->add_value("b");
  ir::Value* c = g->add_value("c");
  ir::Value* y = g->add_value("y");
  g->add_node("Relu", "relu", {x}, {a});
  g->add_node("Exp", "exp", {a}, {b});
  g->add_node("Identity", "view", {b}, {c});
  g->add_node("Add", "add", {a, c}, {y});
  g->outputs().push_back(y);
  ir::infer_graph(*g);
  return g;
}

MemoryPlan plan_for(const ir::Graph& g, GraphOutputMemory outputs = GraphOutputMemory::kArena) {
  std::string why_not;
  auto shapes =
      builder::evaluate_static_shapes(g, builder::bind_input_shapes(g, {{"x", {3, 32}}}), why_not);
  return builder::plan_memory(g, *shapes, outputs);
}

TEST(MemoryPlanFile, RoundTrips) {
  auto g = chain();
  MemoryPlan plan = plan_for(*g);
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCpu, &plan);
  LoadedPlan p = read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "m");
  ASSERT_TRUE(p.memory);
  EXPECT_EQ(p.memory->arena_bytes, plan.arena_bytes);
  EXPECT_EQ(p.memory->total_bytes, plan.total_bytes);
  EXPECT_EQ(p.memory->lower_bound_bytes, plan.lower_bound_bytes);
  EXPECT_EQ(p.memory->input_shapes, plan.input_shapes);
  ASSERT_EQ(p.memory->tensors.size(), plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorPlacement& a = plan.tensors[i];
    const TensorPlacement& b = p.memory->tensors[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.offset, b.offset);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.alias_of, b.alias_of);
    EXPECT_EQ(a.in_place_of, b.in_place_of);
  }
  EXPECT_EQ(p.memory->tensors[2].alias_of, "b");
  EXPECT_EQ(p.memory->graph_outputs, GraphOutputMemory::kArena);
}

TEST(MemoryPlanFile, GraphOutputsInCallerMemoryRoundTrip) {
  auto g = chain();
  MemoryPlan plan = plan_for(*g, GraphOutputMemory::kCaller);
  ASSERT_EQ(plan.tensors.size(), 3u);  // y, the graph output, is the caller's
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCuda, &plan);
  LoadedPlan p = read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "m");
  ASSERT_TRUE(p.memory);
  EXPECT_EQ(p.memory->graph_outputs, GraphOutputMemory::kCaller);
  EXPECT_EQ(p.memory->tensors.size(), 3u);
  EXPECT_EQ(p.memory->arena_bytes, plan.arena_bytes);
}

TEST(MemoryPlanFile, PlansWithoutOneLoad) {
  auto g = chain();
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCpu);
  LoadedPlan p = read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "m");
  EXPECT_FALSE(p.memory);
}

void expect_refused(const ir::Graph& g, const MemoryPlan& plan, const std::string& needle) {
  std::vector<uint8_t> bytes = write_plan(g, Backend::kCpu, &plan);
  try {
    read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "bad.plan");
    ADD_FAILURE() << "accepted; expected a refusal mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    std::string what = e.what();
    EXPECT_NE(what.find("bad.plan"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(MemoryPlanFile, RefusesUnsafeOrInconsistentPlans) {
  auto g = chain();
  MemoryPlan good = plan_for(*g);
  MemoryPlan p = good;
  p.tensors[1].offset = p.tensors[0].offset;  // b over a, which the Add still reads
  expect_refused(*g, p, "share bytes");
  p = good;
  p.tensors[1].offset = good.arena_bytes;
  expect_refused(*g, p, "outside");
  p = good;
  p.tensors[3].alias_of = "a";  // an Add is not a view
  p.tensors[3].in_place_of.clear();
  expect_refused(*g, p, "cannot be a view");
  p = good;
  p.tensors[1].in_place_of = "a";
  expect_refused(*g, p, "cannot overwrite");
  p = good;
  p.tensors.pop_back();
  expect_refused(*g, p, "no placement");
  p = good;
  p.tensors.push_back(p.tensors[0]);
  expect_refused(*g, p, "placed twice");
  p = good;
  p.input_shapes["a"] = {3, 32};
  expect_refused(*g, p, "not an input");
  p = good;
  p.arena_bytes = uint64_t{1} << 62;
  expect_refused(*g, p, "larger than");
  p = good;
  p.graph_outputs = GraphOutputMemory::kCaller;  // yet y is placed
  expect_refused(*g, p, "graph output 'y' lives in the caller's buffer");
  p = good;
  p.graph_outputs = static_cast<GraphOutputMemory>(7);
  expect_refused(*g, p, "unknown memory (7)");
}

// Two branches concatenated along channels at batch 1: the Concat is assembled by its inputs.
std::unique_ptr<ir::Graph> branches() {
  auto g = std::make_unique<ir::Graph>();
  g->name = "branches";
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("n"), 8, 4});
  g->inputs().push_back(x);
  ir::Value* a = g->add_value("a");
  ir::Value* b = g->add_value("b");
  ir::Value* c = g->add_value("c");
  ir::Value* y = g->add_value("y");
  g->add_node("Relu", "relu", {x}, {a});
  g->add_node("Neg", "neg", {x}, {b});
  g->add_node("Concat", "cat", {a, b}, {c})->attrs.set("axis", int64_t{1});
  g->add_node("Exp", "exp", {c}, {y});
  g->outputs().push_back(y);
  ir::infer_graph(*g);
  return g;
}

MemoryPlan branches_plan(const ir::Graph& g) {
  std::string why_not;
  auto shapes = builder::evaluate_static_shapes(
      g, builder::bind_input_shapes(g, {{"x", {1, 8, 4}}}), why_not);
  return builder::plan_memory(g, *shapes);
}

TEST(MemoryPlanFile, ConcatSlicesRoundTrip) {
  auto g = branches();
  MemoryPlan plan = branches_plan(*g);
  ASSERT_EQ(assembled_concats(plan), std::set<std::string>{"c"});
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCpu, &plan);
  LoadedPlan p = read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "m");
  ASSERT_TRUE(p.memory);
  ASSERT_EQ(p.memory->tensors.size(), plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    EXPECT_EQ(p.memory->tensors[i].concat_into, plan.tensors[i].concat_into);
    EXPECT_EQ(p.memory->tensors[i].offset, plan.tensors[i].offset);
  }
  EXPECT_EQ(p.memory->tensors[0].concat_into, "c");
  EXPECT_EQ(p.memory->tensors[1].concat_into, "c");
  EXPECT_EQ(p.memory->tensors[1].offset, p.memory->tensors[2].offset + 128);
}

TEST(MemoryPlanFile, RefusesTamperedConcatSlices) {
  auto g = branches();
  MemoryPlan good = branches_plan(*g);
  MemoryPlan p = good;
  p.tensors[1].offset -= 64;  // b over the end of a
  expect_refused(*g, p, "not at its slice");
  p = good;
  p.tensors[1].concat_into.clear();  // b on its own, over half of c
  expect_refused(*g, p, "every input");
  p = good;
  p.tensors[0].concat_into = "y";  // an Exp
  expect_refused(*g, p, "no Concat writing it");
  p = good;
  p.tensors[0].in_place_of = "x";
  expect_refused(*g, p, "more than one of");
  p = good;
  for (TensorPlacement& t : p.tensors) t.concat_into.clear();  // the slices overlap c
  expect_refused(*g, p, "share bytes");
}

}  // namespace
}  // namespace kiln::plan
