// Each pass on a hand-built graph: what it removes, what it keeps, and that outputs keep their
// names; and the pass manager's fixed point and records.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"
#include "passes/pass_manager.hpp"
#include "passes/passes.hpp"

namespace kiln::passes {
namespace {

using ir::Dim;
using ir::Graph;
using ir::SymShape;
using ir::Value;

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

Value* input(Graph& g, const std::string& name, SymShape shape) {
  Value* v = g.add_value(name, DataType::kFloat32, std::move(shape));
  g.inputs().push_back(v);
  return v;
}

std::vector<std::string> ops(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes()) out.push_back(n->op);
  return out;
}

TEST(EliminateNoops, RemovesIdentityDropoutAndNoopReshapes) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  Value* c = g.add_value("c");
  Value* y = g.add_value("y");
  g.add_node("Identity", "id", {x}, {a});
  g.add_node("Dropout", "drop", {a}, {b});
  g.add_node("Reshape", "reshape", {b, g.add_constant("shape", ints({2, 3}))}, {c});
  g.add_node("Relu", "relu", {c}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  EXPECT_TRUE(eliminate_noops(g));
  EXPECT_EQ(ops(g), std::vector<std::string>{"Relu"});
  EXPECT_EQ(g.nodes()[0]->inputs[0], x);
  ir::verify_graph(g);
}

TEST(EliminateNoops, KeepsReshapesThatChangeTheShapeOrDependOnRuntimeValues) {
  Graph g;
  Value* x = input(g, "x", {2, 3});
  Value* s = input(g, "s", {2});
  g.inputs().back()->dtype = DataType::kInt64;
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  g.add_node("Reshape", "real", {x, g.add_constant("shape", ints({3, 2}))}, {a});
  g.add_node("Reshape", "dynamic", {a, s}, {b});
  g.outputs().push_back(b);
  ir::infer_graph(g);
  EXPECT_FALSE(eliminate_noops(g));
  EXPECT_EQ(g.nodes().size(), 2u);
}

TEST(EliminateNoops, GraphOutputKeepsItsName) {
  Graph g;
  Value* x = input(g, "x", {4});
  Value* r = g.add_value("r");
  Value* out = g.add_value("out");
  g.add_node("Relu", "relu", {x}, {r});
  g.add_node("Identity", "id", {r}, {out});
  g.outputs().push_back(out);
  ir::infer_graph(g);
  EXPECT_TRUE(eliminate_noops(g));
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name, "out");
  EXPECT_EQ(g.outputs()[0]->producer, g.nodes()[0].get());
}

TEST(EliminateNoops, KeepsIdentityFromInputToOutput) {
  Graph g;
  Value* x = input(g, "x", {4});
  Value* out = g.add_value("out");
  g.add_node("Identity", "id", {x}, {out});
  g.outputs().push_back(out);
  EXPECT_FALSE(eliminate_noops(g));
  EXPECT_EQ(g.nodes().size(), 1u);
}

TEST(FoldConstants, FoldsPyTorchShapeChainsOnceShapesAreKnown) {
  // x:[2,3,4] -> Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape(x): the chain PyTorch
  // exports for x.view(x.size(0), -1).
  Graph g;
  Value* x = input(g, "x", {2, 3, 4});
  Value* shape = g.add_value("shape");
  Value* dim0 = g.add_value("dim0");
  Value* dim0_1d = g.add_value("dim0_1d");
  Value* target = g.add_value("target");
  Value* y = g.add_value("y");
  g.add_node("Shape", "shape", {x}, {shape});
  g.add_node("Gather", "gather",
             {shape, g.add_constant("zero", Tensor::from_vector(DataType::kInt64, {},
                                                                std::vector<int64_t>{0}))},
             {dim0});
  g.add_node("Unsqueeze", "unsq", {dim0, g.add_constant("axes", ints({0}))}, {dim0_1d});
  g.add_node("Concat", "concat", {dim0_1d, g.add_constant("minus1", ints({-1}))}, {target})
      ->attrs.set("axis", int64_t{0});
  g.add_node("Reshape", "reshape", {x, target}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  EXPECT_TRUE(fold_constants(g));
  EXPECT_EQ(ops(g), std::vector<std::string>{"Reshape"});
  const Value* folded = g.nodes()[0]->inputs[1];
  ASSERT_TRUE(folded->is_constant());
  EXPECT_EQ(std::vector<int64_t>(folded->constant->data<int64_t>(),
                                 folded->constant->data<int64_t>() + 2),
            (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(ir::sym_shape_to_string(y->shape), "[2,12]");
}

TEST(FoldConstants, SettlesShapeChainsThatSpanManyLayersInOneCall) {
  // Ten Pads, each padding the last axis by the size the previous Pad's output has there (Swin
  // pads every block by sizes computed from the block before): a pad's amount is known only
  // once the previous Pad's output shape is inferred, ten levels deep.
  Graph g;
  Value* x = input(g, "x", {1, 2});
  Value* cur = x;
  for (int k = 0; k < 10; ++k) {
    auto name = [&](const char* what) { return std::string(what) + std::to_string(k); };
    Value* shape = g.add_value(name("shape"));
    Value* width = g.add_value(name("width"));
    Value* width_1d = g.add_value(name("width_1d"));
    Value* pads = g.add_value(name("pads"));
    Value* next = g.add_value(name("padded"));
    g.add_node("Shape", name("shape_of"), {cur}, {shape});
    g.add_node("Gather", name("gather"),
               {shape, g.add_constant(name("one"), Tensor::from_vector(DataType::kInt64, {},
                                                                       std::vector<int64_t>{1}))},
               {width});
    g.add_node("Unsqueeze", name("unsq"), {width, g.add_constant(name("axes"), ints({0}))},
               {width_1d});
    g.add_node("Concat", name("concat"), {g.add_constant(name("zeros"), ints({0, 0, 0})), width_1d},
               {pads})
        ->attrs.set("axis", int64_t{0});
    g.add_node("Pad", name("pad"), {cur, pads}, {next});
    cur = next;
  }
  g.outputs().push_back(cur);
  ir::infer_graph(g);
  EXPECT_TRUE(fold_constants(g));
  EXPECT_EQ(ops(g), std::vector<std::string>(10, "Pad"));
  EXPECT_EQ(ir::sym_shape_to_string(cur->shape), "[1,2048]");  // 2 doubled ten times
}

TEST(FoldConstants, LeavesSymbolicShapesAndRuntimeInputsAlone) {
  Graph g;
  Value* x = input(g, "x", {Dim::symbolic("batch"), 3});
  Value* shape = g.add_value("shape");
  g.add_node("Shape", "shape", {x}, {shape});
  g.outputs().push_back(shape);
  ir::infer_graph(g);
  EXPECT_FALSE(fold_constants(g));
  EXPECT_EQ(g.nodes().size(), 1u);
}

TEST(FoldConstants, EvaluatesArithmeticOnConstants) {
  Graph g;
  Value* x = input(g, "x", {2});
  Value* sum = g.add_value("sum");
  Value* y = g.add_value("y");
  auto f = [](std::vector<float> v) { return Tensor::from_vector(DataType::kFloat32, {2}, v); };
  g.add_node("Add", "add", {g.add_constant("a", f({1, 2})), g.add_constant("b", f({10, 20}))},
             {sum});
  g.add_node("Mul", "mul", {x, sum}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  EXPECT_TRUE(fold_constants(g));
  EXPECT_EQ(ops(g), std::vector<std::string>{"Mul"});
  EXPECT_EQ(g.nodes()[0]->inputs[1]->constant->data<float>()[1], 22.0f);
}

TEST(EliminateCommonSubexpressions, MergesIdenticalNodesOnly) {
  Graph g;
  Value* x = input(g, "x", {4});
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  Value* c = g.add_value("c");
  Value* y = g.add_value("y");
  Value* z = g.add_value("z");
  g.add_node("LeakyRelu", "l1", {x}, {a})->attrs.set("alpha", 0.1f);
  g.add_node("LeakyRelu", "l2", {x}, {b})->attrs.set("alpha", 0.1f);
  g.add_node("LeakyRelu", "l3", {x}, {c})->attrs.set("alpha", 0.2f);
  g.add_node("Add", "add1", {a, b}, {y});
  g.add_node("Add", "add2", {y, c}, {z});
  g.outputs().push_back(z);
  EXPECT_TRUE(eliminate_common_subexpressions(g));
  EXPECT_EQ(g.nodes().size(), 4u);
  EXPECT_EQ(g.find_value("y")->producer->inputs[0], g.find_value("y")->producer->inputs[1]);
  ir::verify_graph(g);
}

TEST(EliminateDeadCode, DropsUnusedBranches) {
  Graph g;
  Value* x = input(g, "x", {4});
  Value* used = g.add_value("used");
  Value* unused = g.add_value("unused");
  g.add_node("Relu", "keep", {x}, {used});
  g.add_node("Sigmoid", "drop", {x}, {unused});
  g.outputs().push_back(used);
  EXPECT_TRUE(eliminate_dead_code(g));
  EXPECT_EQ(ops(g), std::vector<std::string>{"Relu"});
  EXPECT_FALSE(eliminate_dead_code(g));
}

TEST(PassManager, RunsToAFixedPointAndRecordsEachPass) {
  Graph g;
  Value* x = input(g, "x", {2});
  Value* a = g.add_value("a");
  Value* y = g.add_value("y");
  g.add_node("Identity", "id", {x}, {a});
  g.add_node("Relu", "relu", {a}, {y});
  g.outputs().push_back(y);
  ir::infer_graph(g);
  auto records = PassManager(default_passes(3)).run(g);
  EXPECT_EQ(g.nodes().size(), 1u);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().name, "eliminate_noops");
  EXPECT_EQ(records.front().layers_before, 2u);
  EXPECT_EQ(records.front().layers_after, 1u);
  EXPECT_TRUE(records.front().changed);
  EXPECT_FALSE(records.back().changed);  // the last round changed nothing
  EXPECT_NE(format_pass_records(records).find("eliminate_noops"), std::string::npos);
}

}  // namespace
}  // namespace kiln::passes
