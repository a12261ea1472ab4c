// Tensor locations for contexts that bind graph inputs and outputs to the caller's buffers (CUDA):
// from the engine's memory plan (views, in-place chains, Concat inputs in their slices, nested
// Concats, graph outputs in either kind of plan, plans that do not fit the graph) and from the
// fallback packing. Random graphs run with their CPU kernels at the locations given, as the CUDA
// context would run them, must give the outputs of a plain run. Host-only: runs without a GPU.
#include "runtime/activation_layout.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <new>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "builder/memory_planner.hpp"
#include "builder/static_shapes.hpp"
#include "ir/op_registry.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/builder/random_graph_util.hpp"

namespace kiln {
namespace {

using ir::Graph;
using ir::Value;
using Kind = TensorLocation::Kind;

Value* input(Graph& g, const std::string& name, ir::SymShape shape) {
  Value* v = g.add_value(name, DataType::kFloat32, std::move(shape));
  g.inputs().push_back(v);
  return v;
}

Value* unary(Graph& g, const std::string& op, const std::string& name, Value* x) {
  Value* v = g.add_value(name);
  g.add_node(op, "n_" + name, {x}, {v});
  return v;
}

Value* concat(Graph& g, const std::string& name, std::vector<Value*> inputs) {
  Value* v = g.add_value(name);
  g.add_node("Concat", "n_" + name, std::move(inputs), {v})->attrs.set("axis", int64_t{1});
  return v;
}

Value* reshape(Graph& g, const std::string& name, Value* x, std::vector<int64_t> shape) {
  auto n = static_cast<int64_t>(shape.size());
  Value* v = g.add_value(name);
  Value* s = g.add_constant("shape_" + name, Tensor::from_vector(DataType::kInt64, {n}, shape));
  g.add_node("Reshape", "n_" + name, {x, s}, {v});
  return v;
}

uint64_t bytes_of(const Value& v) {
  return static_cast<uint64_t>(shape_numel(*ir::to_concrete(*v.shape))) * element_size(v.dtype);
}

MemoryPlan plan_of(Graph& g, GraphOutputMemory outputs) {
  ir::infer_graph(g);
  std::string why_not;
  auto shapes = builder::evaluate_static_shapes(g, builder::bind_input_shapes(g, {}), why_not);
  EXPECT_TRUE(shapes) << why_not;
  return builder::plan_memory(g, *shapes, outputs);
}

const ir::Node* producer(const Graph& g, const Value* v) {
  for (const auto& n : g.nodes()) {
    for (const Value* o : n->outputs) {
      if (o == v) return n.get();
    }
  }
  return nullptr;
}

bool skipped(const ActivationLayout& l, const Graph& g, const Value* v) {
  return l.skipped.count(producer(g, v)) != 0;
}

void expect_arena(const ActivationLayout& l, const Value* v, uint64_t offset) {
  const TensorLocation& t = l.location.at(v);
  EXPECT_EQ(t.kind, Kind::kArena) << v->name;
  EXPECT_EQ(t.offset, offset) << v->name;
}

void expect_bound(const ActivationLayout& l, const Value* v, const Value* source) {
  const TensorLocation& t = l.location.at(v);
  EXPECT_EQ(t.kind, Kind::kBound) << v->name;
  EXPECT_EQ(t.source, source) << v->name;
}

TEST(ActivationLayout, ViewsAndInPlaceChainsShareTheirSourcesBytes) {
  Graph g;
  Value* x = input(g, "x", {4, 16});
  Value* a = unary(g, "Relu", "a", x);  // its own bytes: x is the caller's
  Value* b = unary(g, "Sigmoid", "b", a);
  Value* c = unary(g, "Tanh", "c", b);
  Value* r = reshape(g, "r", c, {64});
  Value* d = unary(g, "Exp", "d", r);
  Value* y = unary(g, "Neg", "y", d);
  g.outputs().push_back(y);
  MemoryPlan plan = plan_of(g, GraphOutputMemory::kCaller);
  ActivationLayout l = follow_memory_plan(g, plan);
  const uint64_t at = l.location.at(a).offset;
  for (const Value* v : {a, b, c, r, d}) expect_arena(l, v, at);
  expect_bound(l, x, x);
  expect_bound(l, y, y);
  EXPECT_EQ(l.location.at(g.find_value("shape_r")).kind, Kind::kConstant);
  EXPECT_EQ(l.skipped, std::unordered_set<const ir::Node*>{producer(g, r)});
  EXPECT_EQ(l.arena_bytes, plan.arena_bytes);
  EXPECT_EQ(plan.arena_bytes, 256u);  // one buffer: y is the caller's
}

TEST(ActivationLayout, ConcatInputsLieInTheirSlicesAndAssembledConcatsLaunchNothing) {
  Graph g;
  Value* x = input(g, "x", {1, 16});  // 64 bytes
  Value* a = unary(g, "Relu", "a", x);
  Value* b = unary(g, "Neg", "b", x);
  Value* inner = concat(g, "inner", {a, b});
  Value* c = unary(g, "Exp", "c", x);
  Value* outer = concat(g, "outer", {inner, c});
  Value* y = unary(g, "Sigmoid", "y", outer);
  g.outputs().push_back(y);
  MemoryPlan plan = plan_of(g, GraphOutputMemory::kCaller);
  ActivationLayout l = follow_memory_plan(g, plan);
  const uint64_t base = l.location.at(outer).offset;
  expect_arena(l, inner, base);
  expect_arena(l, a, base);
  expect_arena(l, b, base + 64);
  expect_arena(l, c, base + 128);
  EXPECT_TRUE(skipped(l, g, inner));
  EXPECT_TRUE(skipped(l, g, outer));
  EXPECT_EQ(l.skipped.size(), 2u);
  expect_bound(l, y, y);
}

// Graph outputs that a plan kept in the arena could make views, in-place writes or assembled
// Concats: each writes into the caller's buffer instead.
std::unique_ptr<Graph> outputs_everywhere() {
  auto owner = std::make_unique<Graph>();
  Graph& g = *owner;
  Value* x = input(g, "x", {1, 16});
  Value* a = unary(g, "Relu", "a", x);
  Value* y = unary(g, "Neg", "y", a);   // in place over a, with kArena
  Value* v = reshape(g, "v", y, {16});  // a view of a graph output
  Value* w = unary(g, "Exp", "w", v);
  Value* o = unary(g, "Identity", "o", w);  // a graph output that is a view
  Value* c1 = unary(g, "Sin", "c1", x);
  Value* c2 = unary(g, "Cos", "c2", x);
  Value* cat = concat(g, "cat", {c1, c2});  // a graph output assembled by its inputs, with kArena
  g.outputs() = {y, o, cat};
  return owner;
}

TEST(ActivationLayout, GraphOutputsInCallerMemoryAreWrittenByTheirLayers) {
  auto owner = outputs_everywhere();
  Graph& g = *owner;
  MemoryPlan plan = plan_of(g, GraphOutputMemory::kCaller);
  ActivationLayout l = follow_memory_plan(g, plan);
  for (const char* name : {"y", "o", "cat"}) {
    const Value* v = g.find_value(name);
    expect_bound(l, v, v);
    EXPECT_FALSE(skipped(l, g, v)) << name;
  }
  const Value* y = g.find_value("y");
  expect_bound(l, g.find_value("v"), y);  // reads the caller's y
  EXPECT_TRUE(skipped(l, g, g.find_value("v")));
  EXPECT_EQ(l.location.at(g.find_value("c1")).kind, Kind::kArena);
  EXPECT_EQ(l.skipped.size(), 1u);
}

TEST(ActivationLayout, GraphOutputsAPlanKeptInTheArenaStillGoToTheCaller) {
  auto owner = outputs_everywhere();
  Graph& g = *owner;
  MemoryPlan plan = plan_of(g, GraphOutputMemory::kArena);
  // The plan does use each shortcut on a graph output.
  ASSERT_EQ(assembled_concats(plan), std::set<std::string>{"cat"});
  for (const TensorPlacement& t : plan.tensors) {
    if (t.name == "y") EXPECT_EQ(t.in_place_of, "a");
    if (t.name == "o") EXPECT_EQ(t.alias_of, "w");
  }
  ActivationLayout l = follow_memory_plan(g, plan);
  for (const char* name : {"y", "o", "cat"}) {
    const Value* v = g.find_value(name);
    expect_bound(l, v, v);
    EXPECT_FALSE(skipped(l, g, v)) << name << " must copy into the caller's buffer";
  }
  expect_bound(l, g.find_value("v"), g.find_value("y"));
  // The Concat reads its inputs from their slices of its (unused) arena bytes.
  uint64_t cat_offset = 0;
  for (const TensorPlacement& t : plan.tensors) {
    if (t.name == "cat") cat_offset = t.offset;
  }
  expect_arena(l, g.find_value("c1"), cat_offset);
  expect_arena(l, g.find_value("c2"), cat_offset + 64);
}

TEST(ActivationLayout, PlansThatDoNotFitTheGraphAreRefused) {
  auto expect_refused = [](const Graph& g, const MemoryPlan& p, const std::string& needle) {
    try {
      follow_memory_plan(g, p);
      ADD_FAILURE() << "accepted; expected a refusal mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
      std::string what = e.what();
      EXPECT_NE(what.find("memory plan of graph 'other'"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  auto owner = outputs_everywhere();
  Graph& g = *owner;
  g.name = "other";
  const MemoryPlan good = plan_of(g, GraphOutputMemory::kCaller);
  MemoryPlan p = good;
  p.tensors.erase(p.tensors.begin());  // a
  expect_refused(g, p, "no placement");
  p = good;
  p.input_shapes["x"] = {2, 8};
  expect_refused(g, p, "made for input 'x' of shape [2,8]");
  p = good;
  p.tensors.push_back({"y", 0, 64, "", "", ""});
  expect_refused(g, p, "graph output 'y' lives in the caller's buffer");
  p = plan_of(g, GraphOutputMemory::kArena);
  p.graph_outputs = GraphOutputMemory::kCaller;  // its graph outputs are placed
  expect_refused(g, p, "yet the plan places it");
  // A plan made for another graph.
  Graph h;
  h.name = "other";
  Value* x = input(h, "x", {1, 16});
  h.outputs().push_back(unary(h, "Relu", "r", unary(h, "Abs", "a", x)));
  expect_refused(h, good, "places tensors that no layer writes");
  p = plan_of(h, GraphOutputMemory::kCaller);
  for (TensorPlacement& t : p.tensors) t.bytes *= 2;
  expect_refused(h, p, "is given");
}

TEST(ActivationLayout, PackingWithoutAPlanFoldsViewsOfArenaTensorsOnly) {
  Graph g;
  Value* x = input(g, "x", {2, 8});
  Value* a = unary(g, "Relu", "a", x);
  Value* r = reshape(g, "r", a, {16});
  Value* q = reshape(g, "q", x, {16});  // of the caller's input: copied into the arena
  Value* b = g.add_value("b");
  g.add_node("Add", "n_b", {r, q}, {b});
  Value* y = reshape(g, "y", b, {2, 8});  // a graph output: copied into the caller's buffer
  g.outputs().push_back(y);
  ir::infer_graph(g);
  ActivationLayout l = pack_activations(g, bytes_of);
  EXPECT_EQ(l.location.at(r).offset, l.location.at(a).offset);
  EXPECT_EQ(l.skipped, std::unordered_set<const ir::Node*>{producer(g, r)});
  EXPECT_EQ(l.location.at(q).kind, Kind::kArena);
  expect_bound(l, y, y);
  expect_bound(l, x, x);
  // a (with its view r), q and b: b may reuse nothing, all three are read by its layer.
  EXPECT_EQ(l.arena_bytes, 3 * 64u);
}

// 64-byte aligned, as the CPU's and the GPU's allocations are.
std::shared_ptr<void> aligned_bytes(uint64_t n) {
  void* p = ::operator new[](n + 64, std::align_val_t(64));
  std::memset(p, 0xff, n + 64);  // NaN everywhere: a read of unwritten bytes shows
  return std::shared_ptr<void>(p, [](void* q) { ::operator delete[](q, std::align_val_t(64)); });
}

// Runs `g` on input `x` the way a caller-bound context runs it with `layout`: layers it skips run
// nothing; every other layer's CPU kernel reads its inputs and writes its outputs where the
// layout puts them (in one arena, in buffers bound for the graph's input and outputs, in the
// constants). Returns the graph outputs.
std::vector<Tensor> run_at_locations(const Graph& g, const ActivationLayout& layout,
                                     const Tensor& x) {
  std::shared_ptr<void> arena = aligned_bytes(layout.arena_bytes);
  std::map<const Value*, Tensor> bound = {{g.inputs()[0], x}};
  for (const Value* v : g.outputs()) {
    std::shared_ptr<void> bytes = aligned_bytes(bytes_of(*v));
    bound[v] = Tensor::borrow(v->dtype, *ir::to_concrete(*v->shape), bytes.get(), bytes);
  }
  auto at = [&](const Value* v) -> void* {
    const TensorLocation& where = layout.location.at(v);
    switch (where.kind) {
      case Kind::kArena:
        return static_cast<char*>(arena.get()) + where.offset;
      case Kind::kBound:
        return bound.at(where.source).raw();
      case Kind::kConstant:
        return const_cast<void*>(where.source->constant->raw());
    }
    return nullptr;
  };
  for (const auto& n : g.nodes()) {
    if (layout.skipped.count(n.get())) continue;
    std::vector<Tensor> ins;
    std::vector<const Tensor*> in_ptrs;
    ins.reserve(n->inputs.size());
    for (const Value* v : n->inputs) {
      ins.push_back(v ? Tensor::borrow(v->dtype, *ir::to_concrete(*v->shape), at(v), nullptr)
                      : Tensor());
      in_ptrs.push_back(v ? &ins.back() : nullptr);
    }
    std::vector<cpu::OutputMemory> memory;
    for (const Value* v : n->outputs) {
      if (!v) {
        memory.emplace_back();
        continue;
      }
      bool over_input = false;
      for (Tensor& t : ins) over_input |= t.defined() && t.raw() == at(v);
      memory.push_back({at(v), bytes_of(*v), !over_input});
    }
    auto kernel = cpu::CpuKernelRegistry::instance().create(*n);
    std::vector<Tensor> outs = cpu::run_node(*kernel, *n, in_ptrs, memory);
    for (size_t o = 0; o < outs.size(); ++o) {
      if (!n->outputs[o]) continue;
      void* dst = at(n->outputs[o]);
      if (outs[o].raw() != dst) std::memcpy(dst, outs[o].raw(), outs[o].nbytes());
    }
  }
  std::vector<Tensor> result;
  for (const Value* v : g.outputs()) result.push_back(bound.at(v).clone());
  return result;
}

Tensor random_input(std::mt19937& rng) {
  Tensor t(DataType::kFloat32, {16});
  std::normal_distribution<float> d;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(ActivationLayout, RandomGraphsRunAtTheirLocationsMatchAPlainRun) {
  std::mt19937 rng(31);
  int skipped_layers = 0, in_place = 0, into_concats = 0, output_shortcuts = 0;
  for (int trial = 0; trial < 120; ++trial) {
    auto g = test::random_graph(rng, 5 + trial % 60);
    Tensor x = random_input(rng);
    Engine plain(make_engine_impl(g->clone(), Backend::kCpu, nullptr, std::nullopt));
    std::vector<Tensor> want = plain.create_execution_context()->execute({{"x", x}});
    std::vector<ActivationLayout> layouts = {pack_activations(*g, bytes_of)};
    for (GraphOutputMemory outputs : {GraphOutputMemory::kCaller, GraphOutputMemory::kArena}) {
      MemoryPlan plan = plan_of(*g, outputs);
      for (const TensorPlacement& t : plan.tensors) {
        in_place += !t.in_place_of.empty();
        into_concats += !t.concat_into.empty();
        const Value* v = g->find_value(t.name);
        output_shortcuts +=
            g->is_graph_output(v) && (!t.alias_of.empty() || !t.in_place_of.empty());
      }
      for (const std::string& c : assembled_concats(plan)) {
        output_shortcuts += g->is_graph_output(g->find_value(c));
      }
      layouts.push_back(follow_memory_plan(*g, plan));
    }
    for (size_t k = 0; k < layouts.size(); ++k) {
      skipped_layers += static_cast<int>(layouts[k].skipped.size());
      Tensor x_copy = x.clone();
      std::vector<Tensor> got = run_at_locations(*g, layouts[k], x_copy);
      ASSERT_EQ(got.size(), want.size());
      for (size_t o = 0; o < got.size(); ++o) {
        EXPECT_TRUE(same_bytes(got[o], want[o]))
            << "trial " << trial << ", layout " << k << ", output " << g->outputs()[o]->name;
      }
      EXPECT_TRUE(same_bytes(x_copy, x)) << "trial " << trial << " wrote into its input";
    }
    if (::testing::Test::HasFailure()) FAIL() << "trial " << trial;
  }
  // Every shortcut was taken many times, graph outputs included.
  EXPECT_GT(skipped_layers, 300);
  EXPECT_GT(in_place, 100);
  EXPECT_GT(into_concats, 50);
  EXPECT_GT(output_shortcuts, 20);
}

}  // namespace
}  // namespace kiln
