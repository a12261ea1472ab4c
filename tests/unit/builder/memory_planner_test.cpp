// The memory planner on hand-built graphs (views, in-place layers, Concat inputs written into
// their slices, what must not be overwritten), its safety check on tampered plans, and a
// simulation of random graphs that fails if any layer writes over bytes a later layer still reads.
#include "builder/memory_planner.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <unordered_map>

#include "builder/arena_layout.hpp"
#include "builder/static_shapes.hpp"
#include "ir/op_registry.hpp"
#include "unit/builder/random_graph_util.hpp"

namespace kiln::builder {
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

void simulate(const Graph& g, const MemoryPlan& p);

MemoryPlan plan_of(Graph& g, std::map<std::string, Shape> profile = {},
                   GraphOutputMemory outputs = GraphOutputMemory::kArena) {
  ir::infer_graph(g);
  std::string why_not;
  auto shapes = evaluate_static_shapes(g, bind_input_shapes(g, profile), why_not);
  EXPECT_TRUE(shapes) << why_not;
  return plan_memory(g, *shapes, outputs);
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

// A layer is written over its dying input exactly where the op table marks its op safe in place
// (OpTraits::safe_in_place), for every elementwise op that takes and gives float32.
TEST(MemoryPlanner, LayersRunInPlaceExactlyWhereTheOpTableSays) {
  int in_place = 0, apart = 0;
  for (const std::string& op : ir::OpRegistry::instance().names()) {
    const ir::OpSchema& schema = *ir::OpRegistry::instance().find(op);
    if (schema.traits.elementwise == ir::ElementwiseClass::kNone || schema.traits.view) continue;
    Graph g;
    Value* x = input(g, "x", {4, 8});
    Value* a = g.add_value("a");
    Value* y = g.add_value("y");
    g.add_node("Neg", "neg", {x}, {a});
    // Every operand is `a`, which dies at this layer.
    ir::Node* n =
        g.add_node(op, "n", std::vector<Value*>(static_cast<size_t>(schema.min_inputs), a), {y});
    if (op == "Cast") n->attrs.set("to", std::string("float32"));
    if (op == "Mod") n->attrs.set("fmod", int64_t{1});
    g.outputs().push_back(y);
    try {
      ir::infer_graph(g);
    } catch (const Error&) {
      continue;  // takes no float32 (Not, BitShift) or needs attributes (Pointwise)
    }
    if (y->dtype != DataType::kFloat32) continue;  // a comparison: never over its input
    const bool over_a = placed(plan_of(g), "y").in_place_of == "a";
    EXPECT_EQ(over_a, schema.traits.safe_in_place) << op;
    (over_a ? in_place : apart) += 1;
  }
  EXPECT_GE(in_place, 40);
  EXPECT_GE(apart, 5);  // Sum, Mean, Max, Min, Cast...
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

Value* concat(Graph& g, const std::string& name, std::vector<Value*> inputs, int64_t axis) {
  Value* out = g.add_value(name);
  g.add_node("Concat", name, std::move(inputs), {out})->attrs.set("axis", axis);
  return out;
}

Value* unary(Graph& g, const std::string& op, const std::string& name, Value* in) {
  Value* out = g.add_value(name);
  g.add_node(op, name, {in}, {out});
  return out;
}

TEST(MemoryPlanner, GraphOutputsInCallerMemoryAreLeftOutOfTheArena) {
  Graph g;
  Value* x = input(g, "x", {1, 16});  // 64 bytes
  Value* a = unary(g, "Relu", "a", x);
  Value* y = unary(g, "Neg", "y", a);
  Value* w = unary(g, "Exp", "w", unary(g, "Identity", "v", y));
  g.outputs() = {y, concat(g, "cat", {unary(g, "Sin", "s", x), w}, 1)};
  MemoryPlan kept = plan_of(g);  // the graph outputs in the arena, as the CPU keeps them
  EXPECT_EQ(placed(kept, "y").in_place_of, "a");
  EXPECT_EQ(assembled_concats(kept), std::set<std::string>{"cat"});

  MemoryPlan p = plan_of(g, {}, GraphOutputMemory::kCaller);
  EXPECT_EQ(p.graph_outputs, GraphOutputMemory::kCaller);
  std::set<std::string> names;
  for (const TensorPlacement& t : p.tensors) names.insert(t.name);
  EXPECT_EQ(names, (std::set<std::string>{"a", "v", "w", "s"}));
  EXPECT_EQ(placed(p, "v").alias_of, "y");    // a view of the caller's buffer
  EXPECT_EQ(placed(p, "w").in_place_of, "");  // never written over the caller's bytes
  EXPECT_TRUE(assembled_concats(p).empty());  // its inputs cannot lie in the caller's buffer
  EXPECT_EQ(p.arena_bytes, 128u);
  EXPECT_EQ(p.lower_bound_bytes, 128u);
  EXPECT_EQ(p.total_bytes, 4 * 64u);
  EXPECT_EQ(memory_plan_problem(g, p), "");
}

TEST(MemoryPlanner, ChannelConcatAtBatchOneIsAssembledByItsInputs) {
  Graph g;
  Value* x = input(g, "x", {1, 4, 4, 4});  // 256 bytes
  Value* a = unary(g, "Relu", "a", x);
  Value* b = unary(g, "Neg", "b", x);
  Value* c = unary(g, "Exp", "c", x);
  Value* cat = concat(g, "cat", {a, b, c}, 1);
  g.outputs().push_back(unary(g, "Sigmoid", "y", cat));
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(assembled_concats(p), std::set<std::string>{"cat"});
  EXPECT_EQ(placed(p, "a").concat_into, "cat");
  EXPECT_EQ(placed(p, "a").offset, placed(p, "cat").offset);
  EXPECT_EQ(placed(p, "b").offset, placed(p, "cat").offset + 256);
  EXPECT_EQ(placed(p, "c").offset, placed(p, "cat").offset + 512);
  EXPECT_EQ(placed(p, "cat").concat_into, "");
  // The Sigmoid then overwrites the whole concat, whose inputs are all dead: one 768-byte buffer
  // where separate inputs and output would need twice that.
  EXPECT_EQ(placed(p, "y").in_place_of, "cat");
  EXPECT_EQ(p.arena_bytes, 768u);
  EXPECT_EQ(p.lower_bound_bytes, 768u);
  EXPECT_EQ(p.total_bytes, 3 * 768u);
}

TEST(MemoryPlanner, ConcatsWithInputsNotContiguousInTheOutputAreKept) {
  Graph g;
  Value* x = input(g, "x", {2, 4, 4, 4});
  Value* a = unary(g, "Relu", "a", x);
  Value* b = unary(g, "Neg", "b", x);
  // Batch 2 along channels: each input is two ranges of the output.
  g.outputs().push_back(concat(g, "channels", {a, b}, 1));
  Value* c = unary(g, "Exp", "c", x);
  Value* d = unary(g, "Abs", "d", x);
  // Along the batch (and with a negative axis, along the last dim of a [1, 4, 4, 4]) each input
  // is one range.
  g.outputs().push_back(concat(g, "batch", {c, d}, 0));
  Value* e = unary(g, "Sin", "e", x);
  Value* f = unary(g, "Cos", "f", x);
  g.outputs().push_back(concat(g, "width", {e, f}, -1));
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(assembled_concats(p), std::set<std::string>{"batch"});
  EXPECT_EQ(placed(p, "a").concat_into, "");
  EXPECT_EQ(placed(p, "e").concat_into, "");
  EXPECT_EQ(placed(p, "d").offset, placed(p, "batch").offset + 512);

  Graph one;
  Value* y = input(one, "y", {1, 1, 4, 4});
  Value* s = unary(one, "Sin", "s", y);
  Value* t = unary(one, "Cos", "t", y);
  one.outputs().push_back(concat(one, "width", {s, t}, -1));  // [1, 1, 4, 8]: rows interleave
  EXPECT_TRUE(assembled_concats(plan_of(one)).empty());
}

TEST(MemoryPlanner, ConcatInputsThatCannotMoveKeepTheConcat) {
  auto kept = [](const std::function<void(Graph&, Value*, Value*)>& build) {
    Graph g;
    Value* x = input(g, "x", {1, 16});
    Value* a = unary(g, "Relu", "a", x);
    build(g, x, a);
    MemoryPlan p = plan_of(g);
    EXPECT_EQ(memory_plan_problem(g, p), "");
    return assembled_concats(p);
  };
  std::set<std::string> none;
  // A graph input, a constant, a view, an input given twice, a graph output.
  EXPECT_EQ(kept([](Graph& g, Value* x, Value* a) {
              g.outputs().push_back(concat(g, "cat", {a, x}, 1));
            }),
            none);
  EXPECT_EQ(kept([](Graph& g, Value*, Value* a) {
              Value* k = g.add_constant("k", Tensor(DataType::kFloat32, {1, 16}));
              g.outputs().push_back(concat(g, "cat", {a, k}, 1));
            }),
            none);
  EXPECT_EQ(kept([](Graph& g, Value* x, Value* a) {
              Value* v = unary(g, "Identity", "v", unary(g, "Neg", "n", x));
              g.outputs().push_back(concat(g, "cat", {a, v}, 1));
            }),
            none);
  EXPECT_EQ(kept([](Graph& g, Value*, Value* a) {
              g.outputs().push_back(concat(g, "cat", {a, a}, 1));
            }),
            none);
  EXPECT_EQ(kept([](Graph& g, Value* x, Value* a) {
              Value* b = unary(g, "Neg", "b", x);
              g.outputs().push_back(concat(g, "cat", {a, b}, 1));
              g.outputs().push_back(b);
            }),
            none);
  // A slice that would start off a 64-byte boundary: [1, 4] is 16 bytes.
  EXPECT_EQ(kept([](Graph& g, Value* x, Value* a) {
              Value* s = g.add_value("s");
              g.add_node("Slice", "slice",
                         {a, g.add_constant("st", ints({0})), g.add_constant("en", ints({4})),
                          g.add_constant("ax", ints({1}))},
                         {s});
              Value* b = unary(g, "Neg", "b", x);
              g.outputs().push_back(concat(g, "cat", {s, b}, 1));
            }),
            none);
  // An input of two Concats goes into the later one.
  EXPECT_EQ(kept([](Graph& g, Value* x, Value* a) {
              Value* b = unary(g, "Neg", "b", x);
              Value* c = unary(g, "Exp", "c", x);
              g.outputs().push_back(concat(g, "first", {a, b}, 1));
              g.outputs().push_back(concat(g, "second", {b, c}, 1));
            }),
            std::set<std::string>{"second"});
}

TEST(MemoryPlanner, NestedConcatsAreAssembledInTheOutermostOutput) {
  // Inception v3's last blocks: two branches end in a Concat of two convs each, and the block's
  // Concat takes those with the other branches; one of the inner Concats is read on its own too.
  Graph g;
  Value* x = input(g, "x", {1, 2, 8, 4});  // 256 bytes
  Value* a = unary(g, "Relu", "a", x);
  Value* b1 = unary(g, "Neg", "b1", x);
  Value* b2 = unary(g, "Exp", "b2", x);
  Value* inner_b = concat(g, "inner_b", {b1, b2}, 1);
  Value* c1 = unary(g, "Sin", "c1", x);
  Value* c2 = unary(g, "Cos", "c2", x);
  Value* inner_c = concat(g, "inner_c", {c1, c2}, 1);
  Value* block = concat(g, "block", {a, inner_b, inner_c}, 1);
  g.outputs().push_back(unary(g, "Sigmoid", "y", block));
  g.outputs().push_back(unary(g, "Abs", "z", inner_c));
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(assembled_concats(p), (std::set<std::string>{"inner_b", "inner_c", "block"}));
  uint64_t base = placed(p, "block").offset;
  EXPECT_EQ(placed(p, "a").offset, base);
  EXPECT_EQ(placed(p, "inner_b").concat_into, "block");
  EXPECT_EQ(placed(p, "inner_b").offset, base + 256);
  EXPECT_EQ(placed(p, "b1").concat_into, "inner_b");
  EXPECT_EQ(placed(p, "b1").offset, base + 256);
  EXPECT_EQ(placed(p, "b2").offset, base + 512);
  EXPECT_EQ(placed(p, "inner_c").offset, base + 768);
  EXPECT_EQ(placed(p, "c2").offset, base + 1024);
  EXPECT_EQ(placed(p, "z").in_place_of, "");  // inner_c is part of block, still read by y
  simulate(g, p);
  // Tampered: a nested Concat off its slice of the outer one, an input off its slice of the
  // nested one, a nested Concat claimed by another.
  auto tampered = [&](const std::string& name, auto change) {
    MemoryPlan bad = p;
    for (TensorPlacement& t : bad.tensors) {
      if (t.name == name) change(t);
    }
    return memory_plan_problem(g, bad);
  };
  EXPECT_NE(
      tampered("inner_b", [](TensorPlacement& t) { t.offset += 64; }).find("not at its slice"),
      std::string::npos);
  EXPECT_NE(tampered("b2", [](TensorPlacement& t) { t.offset -= 64; }).find("not at its slice"),
            std::string::npos);
  EXPECT_NE(tampered("inner_c", [](TensorPlacement& t) { t.concat_into = "inner_b"; })
                .find("every input"),
            std::string::npos);

  // DenseNet: each Concat appends one layer's features to the previous Concat, which other
  // layers read too; the whole block is assembled in the last Concat's output.
  Graph dense;
  Value* features = unary(dense, "Relu", "f0", input(dense, "x", {1, 1, 4, 4}));  // 64 bytes
  for (int i = 1; i <= 4; ++i) {
    std::string n = std::to_string(i);
    Value* grown = dense.add_value("g" + n);  // one new channel from all so far
    dense.add_node("ReduceMax", "g" + n, {features, dense.add_constant("axes" + n, ints({1}))},
                   {grown});
    features = concat(dense, "cat" + n, {features, grown}, 1);
  }
  dense.outputs().push_back(unary(dense, "Neg", "out", features));
  MemoryPlan d = plan_of(dense);
  EXPECT_EQ(assembled_concats(d).size(), 4u);
  uint64_t start = placed(d, "cat4").offset;
  EXPECT_EQ(placed(d, "f0").offset, start);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(placed(d, "g" + std::to_string(i)).offset, start + 64 * i) << i;
  }
  simulate(dense, d);
}

TEST(MemoryPlanner, ConcatInputsReadAfterTheConcatStayIntact) {
  Graph g;
  Value* x = input(g, "x", {1, 4, 4, 4});
  Value* a = unary(g, "Relu", "a", x);
  Value* b = unary(g, "Neg", "b", x);
  Value* cat = concat(g, "cat", {a, b}, 1);
  Value* y = unary(g, "Exp", "y", cat);  // would overwrite cat in place, but a is read below
  Value* z = unary(g, "Sigmoid", "z", a);
  g.outputs().push_back(y);
  g.outputs().push_back(z);
  MemoryPlan p = plan_of(g);
  EXPECT_EQ(placed(p, "a").concat_into, "cat");
  EXPECT_EQ(placed(p, "y").in_place_of, "");
  EXPECT_EQ(placed(p, "z").in_place_of, "");  // a is a slice of a bigger buffer
  const TensorPlacement& c = placed(p, "cat");
  for (const char* name : {"y", "z"}) {
    const TensorPlacement& t = placed(p, name);
    EXPECT_TRUE(t.offset >= c.offset + c.bytes || t.offset + t.bytes <= c.offset) << name;
  }
  simulate(g, p);
}

// A planned graph whose plan the tests tamper with, then ask the safety check about.
class PlanFixture : public ::testing::Test {
 protected:
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

class TamperedPlan : public PlanFixture {
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

TEST(TamperedPlanOp, InPlaceWriteByALayerThatCannotRunInPlaceIsFound) {
  // Softmax reads its whole row before writing it: it may not overwrite its input, even where
  // the bytes and lifetimes would allow it.
  Graph g;
  Value* x = input(g, "x", {4, 8});
  Value* a = g.add_value("a");
  Value* s = g.add_value("s");
  Value* y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {a});
  g.add_node("Softmax", "softmax", {a}, {s});
  g.add_node("Exp", "exp", {s}, {y});
  g.outputs().push_back(y);
  MemoryPlan p = plan_of(g);
  ASSERT_EQ(memory_plan_problem(g, p), "");
  TensorPlacement* ps = nullptr;
  const TensorPlacement* pa = nullptr;
  for (TensorPlacement& t : p.tensors) {
    if (t.name == "s") ps = &t;
    if (t.name == "a") pa = &t;
  }
  ASSERT_TRUE(ps && pa);
  ASSERT_EQ(ps->in_place_of, "");
  ps->in_place_of = "a";
  ps->offset = pa->offset;
  EXPECT_NE(memory_plan_problem(g, p).find("cannot overwrite"), std::string::npos)
      << memory_plan_problem(g, p);
}

TEST(TamperedPlanOp, InPlaceWriteOverAGraphOutputIsFound) {
  // The last layer's input dies there, yet as a graph output it is handed back after the run.
  Graph g;
  Value* x = input(g, "x", {16});
  Value* a = unary(g, "Relu", "a", x);
  g.outputs() = {a, unary(g, "Sigmoid", "y", a)};
  MemoryPlan p = plan_of(g);
  ASSERT_EQ(memory_plan_problem(g, p), "");
  TensorPlacement& y = p.tensors.back();
  ASSERT_EQ(y.name, "y");
  y.in_place_of = "a";
  y.offset = placed(p, "a").offset;
  p.arena_bytes = 64;
  EXPECT_NE(memory_plan_problem(g, p).find("cannot overwrite"), std::string::npos)
      << memory_plan_problem(g, p);
  // With the graph outputs in the caller's buffers, the plan may not place them at all.
  p = plan_of(g);
  p.graph_outputs = GraphOutputMemory::kCaller;
  EXPECT_NE(memory_plan_problem(g, p).find("graph output 'a' lives in the caller's buffer"),
            std::string::npos)
      << memory_plan_problem(g, p);
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

class TamperedConcat : public PlanFixture {
 protected:
  void SetUp() override {
    graph = std::make_unique<Graph>();
    Graph& g = *graph;
    Value* x = input(g, "x", {1, 16, 4});  // 256 bytes
    Value* a = unary(g, "Relu", "a", x);
    Value* b = unary(g, "Neg", "b", unary(g, "Sin", "w", x));  // w lives while a's slice does
    Value* cat = concat(g, "cat", {a, b}, 1);
    Value* y = unary(g, "Exp", "y", cat);
    g.outputs().push_back(unary(g, "Abs", "z", b));
    g.outputs().push_back(y);
    plan = plan_of(g);
    ASSERT_EQ(assembled_concats(plan), std::set<std::string>{"cat"});
    ASSERT_EQ(memory_plan_problem(g, plan), "");
  }
};

TEST_F(TamperedConcat, SlicesOutOfPlaceOrOrderAreFound) {
  at("b").offset += 64;
  EXPECT_NE(problem().find("not at its slice"), std::string::npos) << problem();
  SetUp();
  std::swap(at("a").offset, at("b").offset);
  EXPECT_NE(problem().find("not at its slice"), std::string::npos) << problem();
  SetUp();
  at("b").bytes = 128;  // the slices no longer fill the output
  EXPECT_NE(problem().find("fill"), std::string::npos) << problem();
}

TEST_F(TamperedConcat, TensorsOverSlicesWrittenBeforeTheConcatAreFound) {
  at("w").offset = at("cat").offset;  // over a, written before w and read by the Concat
  EXPECT_NE(problem().find("share bytes"), std::string::npos) << problem();
}

TEST_F(TamperedConcat, ConcatsHalfAssembledOrIntoOtherLayersAreFound) {
  at("b").concat_into.clear();  // b then overlaps cat, which a's slice makes at a's layer
  EXPECT_NE(problem().find("every input"), std::string::npos) << problem();
  SetUp();
  at("a").concat_into = "y";  // not a Concat
  EXPECT_NE(problem().find("no Concat writing it"), std::string::npos) << problem();
  SetUp();
  at("w").concat_into = "cat";  // written before cat, but not read by it
  EXPECT_NE(problem().find("is no input of"), std::string::npos) << problem();
  SetUp();
  at("y").concat_into = "cat";  // written after the Concat
  EXPECT_NE(problem().find("no later layer"), std::string::npos) << problem();
  SetUp();
  at("cat").in_place_of = "a";
  EXPECT_NE(problem().find("bytes of its own"), std::string::npos) << problem();
  SetUp();
  at("a").alias_of = "x";
  EXPECT_NE(problem().find("not at its slice"), std::string::npos) << problem();
  SetUp();
  at("z").concat_into = "nowhere";
  EXPECT_NE(problem().find("no later layer"), std::string::npos) << problem();
}

TEST_F(TamperedConcat, SlicesOfGraphOutputsAndInterleavedInputsAreFound) {
  graph->outputs().push_back(graph->find_value("a"));
  EXPECT_NE(problem().find("no graph output"), std::string::npos) << problem();
  // Batch 2 along channels: the same bytes, but each input is two ranges of the output.
  graph = std::make_unique<Graph>();
  Graph& g = *graph;
  Value* x = input(g, "x", {2, 16});  // 128 bytes
  Value* a = unary(g, "Relu", "a", x);
  Value* b = unary(g, "Neg", "b", x);
  g.outputs().push_back(unary(g, "Exp", "y", concat(g, "cat", {a, b}, 1)));
  plan = plan_of(g);
  ASSERT_TRUE(assembled_concats(plan).empty());
  // Assemble it anyway: a and b at the start of cat, one after the other.
  at("a").concat_into = at("b").concat_into = "cat";
  at("a").offset = at("cat").offset;
  at("b").offset = at("cat").offset + 128;
  EXPECT_NE(problem().find("not contiguous"), std::string::npos) << problem();
}

// Executes a plan symbolically: the arena holds, per 64-byte block, the id of the tensor whose
// bytes are there. A layer's inputs must still find their own bytes when it runs; then its
// outputs claim theirs. Views read their source's bytes; an eliminated Concat writes nothing and
// reads its inputs' bytes, which must lie in its own range; graph outputs must survive to the end.
void simulate(const Graph& g, const MemoryPlan& p) {
  std::unordered_map<std::string, const TensorPlacement*> by_name;
  for (const TensorPlacement& t : p.tensors) by_name[t.name] = &t;
  std::set<std::string> assembled = assembled_concats(p);
  std::vector<int> arena(p.arena_bytes / kArenaAlignment + 1, -1);
  // tensor -> the tensors that wrote the bytes it reads (none: an input or constant)
  std::unordered_map<std::string, std::vector<std::string>> storage;
  std::unordered_map<std::string, int> id;
  auto blocks = [](const TensorPlacement& t) {
    std::vector<uint64_t> out;
    for (uint64_t b = t.offset / kArenaAlignment; b * kArenaAlignment < t.offset + t.bytes; ++b) {
      out.push_back(b);
    }
    return out;
  };
  auto check_intact = [&](const std::string& name, const std::string& when) {
    for (const std::string& s : storage[name]) {
      for (uint64_t b : blocks(*by_name.at(s))) {
        ASSERT_EQ(arena[b], id.at(s)) << "'" << name << "' was overwritten before " << when;
      }
    }
  };
  for (const auto& n : g.nodes()) {
    for (const Value* v : n->inputs) {
      if (v) check_intact(v->name, n->name);
    }
    for (const Value* v : n->outputs) {
      const TensorPlacement& t = *by_name.at(v->name);
      if (!t.alias_of.empty()) {
        storage[v->name] = storage[t.alias_of];
        continue;
      }
      if (assembled.count(v->name)) {
        storage[v->name].clear();
        for (const Value* in : n->inputs) {
          const TensorPlacement& slice = *by_name.at(in->name);
          ASSERT_EQ(slice.concat_into, v->name);
          ASSERT_GE(slice.offset, t.offset);
          ASSERT_LE(slice.offset + slice.bytes, t.offset + t.bytes);
          for (const std::string& s : storage[in->name]) storage[v->name].push_back(s);
        }
        continue;
      }
      storage[v->name] = {v->name};
      id[v->name] = static_cast<int>(id.size());
      for (uint64_t b : blocks(t)) arena[b] = id[v->name];
    }
  }
  for (const Value* v : g.outputs()) check_intact(v->name, "the end");
}

TEST(MemoryPlanner, RandomGraphsNeverOverwriteLiveTensors) {
  std::mt19937 rng(2024);
  int views = 0, in_place = 0, concats = 0;
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
    concats += static_cast<int>(assembled_concats(p).size());
  }
  EXPECT_GT(views, 100);
  EXPECT_GT(in_place, 100);
  EXPECT_GT(concats, 50);
}

}  // namespace
}  // namespace kiln::builder
