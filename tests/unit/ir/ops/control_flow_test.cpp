// Inference, verification and printing of If, Loop and Scan: subgraphs typed from the node's
// inputs, merged branch types, loop and scan output shapes, and errors that name the node.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "ir/printer.hpp"
#include "ir/verifier.hpp"
#include "unit/control_flow_test_util.hpp"

namespace kiln::ir {
namespace {

using test::attrs;
using test::GraphBuilder;

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an Error";
  return "";
}

// If(cond, x) whose branches return the given ops of the captured x.
std::unique_ptr<Graph> if_graph(const std::string& then_op, const std::string& else_op,
                                SymShape x_shape, Value** cond_out = nullptr,
                                std::optional<Tensor> cond_value = std::nullopt) {
  GraphBuilder then_b("then");
  Value* tx = then_b.input("x", DataType::kFloat32, std::nullopt);
  then_b.output(then_b.op(then_op, {tx}, "t"));
  GraphBuilder else_b("else");
  Value* ex = else_b.input("x", DataType::kFloat32, std::nullopt);
  else_b.output(else_b.op(else_op, {ex}, "e"));
  GraphBuilder main("g");
  Value* cond = cond_value ? main.constant("cond", *cond_value)
                           : main.input("cond", DataType::kBool, SymShape{});
  Value* x = main.input("x", DataType::kFloat32, x_shape);
  main.output(main.op("If", {cond, x}, "out",
                      attrs({{"then_branch", then_b.subgraph()},
                             {"else_branch", else_b.subgraph()},
                             {"num_captures", int64_t{1}}})));
  if (cond_out) *cond_out = cond;
  return main.finish();
}

TEST(IfInference, CapturesAreTypedFromTheOuterValues) {
  auto g = test::if_with_captures();
  const Node& n = *g->nodes()[0];
  const Graph& then_g = *n.attrs.get_graph("then_branch");
  EXPECT_EQ(sym_shape_to_string(then_g.inputs()[0]->shape), "[3]");
  EXPECT_EQ(sym_shape_to_string(then_g.outputs()[0]->shape), "[3]");
  EXPECT_EQ(sym_shape_to_string(g->outputs()[0]->shape), "[3]");
  EXPECT_EQ(g->outputs()[0]->dtype, DataType::kFloat32);
  verify_graph(*g);
}

TEST(IfInference, MergesBranchShapes) {
  // then: Shape(x) gives int64[2]; else: Shape of Flatten... use two ops with different ranks.
  auto g = if_graph("Relu", "Flatten", SymShape{Dim::symbolic("n"), 3, 4});
  // Relu keeps [n,3,4]; Flatten gives [n,12]: ranks differ, so the rank is unknown.
  EXPECT_EQ(sym_shape_to_string(g->outputs()[0]->shape), "[?]");
  auto same = if_graph("Relu", "Neg", SymShape{Dim::symbolic("n"), 3});
  EXPECT_EQ(sym_shape_to_string(same->outputs()[0]->shape), "[n,3]");
}

TEST(IfInference, ConstantConditionTypesFromTheChosenBranch) {
  auto g = if_graph("Relu", "Flatten", SymShape{2, 3, 4}, nullptr, test::scalar_bool(false));
  EXPECT_EQ(sym_shape_to_string(g->outputs()[0]->shape), "[2,12]");
}

TEST(IfInference, RefusesBranchesOfDifferentTypes) {
  std::string msg = error_of([] { if_graph("Relu", "Shape", SymShape{2}); });
  EXPECT_NE(msg.find("node 'If_0' (If)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int64 in else_branch"), std::string::npos) << msg;
}

TEST(IfInference, RefusesBranchOutputCountMismatch) {
  GraphBuilder then_b("then");
  then_b.output(then_b.constant("a", test::floats({}, {1})));
  then_b.output(then_b.constant("b", test::floats({}, {2})));
  GraphBuilder else_b("else");
  else_b.output(else_b.constant("c", test::floats({}, {3})));
  GraphBuilder main("g");
  Value* cond = main.input("cond", DataType::kBool, SymShape{});
  main.op_n("If", {cond}, {"o1", "o2"},
            attrs({{"then_branch", then_b.subgraph()}, {"else_branch", else_b.subgraph()}}));
  std::string msg = error_of([&] { main.finish(); });
  EXPECT_NE(msg.find("(If)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'else_branch' returns 1 outputs"), std::string::npos) << msg;
}

TEST(IfInference, ABranchThatCannotBeInferredLeavesTheOtherOneTyping) {
  // then: MatMul(x, x) on [2,3] is invalid, so only else can run: the output is typed from it.
  GraphBuilder then_b("then");
  Value* tx = then_b.input("x", DataType::kFloat32, std::nullopt);
  then_b.output(then_b.op("MatMul", {tx, tx}, "t"));
  GraphBuilder else_b("else");
  Value* ex = else_b.input("x", DataType::kFloat32, std::nullopt);
  else_b.output(else_b.op("Neg", {ex}, "e"));
  GraphBuilder main("g");
  Value* cond = main.input("cond", DataType::kBool, SymShape{});
  Value* x = main.input("x", DataType::kFloat32, SymShape{2, 3});
  main.output(main.op("If", {cond, x}, "out",
                      attrs({{"then_branch", then_b.subgraph()},
                             {"else_branch", else_b.subgraph()},
                             {"num_captures", int64_t{1}}})));
  auto g = main.finish();
  EXPECT_EQ(g->nodes()[0]->attrs.get_string("uninferred_branch"), "then_branch");
  EXPECT_EQ(sym_shape_to_string(g->outputs()[0]->shape), "[2,3]");
  // Taking the broken branch fails with the inner node's error.
  std::string msg = error_of([&] {
    test::run_graph(std::move(g),
                    {{"cond", test::scalar_bool(true)}, {"x", Tensor(DataType::kFloat32, {2, 3})}});
  });
  EXPECT_NE(msg.find("MatMul"), std::string::npos) << msg;
}

TEST(LoopInference, TypesCarriedAndScanOutputs) {
  auto g = test::loop_with_nested_if();
  const Graph& body = *g->nodes()[0]->attrs.get_graph("body");
  EXPECT_EQ(sym_shape_to_string(body.inputs()[2]->shape), "[3]");  // from acc0
  EXPECT_EQ(sym_shape_to_string(body.inputs()[3]->shape), "[3]");  // captured x
  // The nested If was typed from the body's values.
  const Node* inner = nullptr;
  for (const auto& n : body.nodes()) {
    if (n->op == "If") inner = n.get();
  }
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(sym_shape_to_string(inner->attrs.get_graph("then_branch")->outputs()[0]->shape), "[3]");
  EXPECT_EQ(sym_shape_to_string(g->outputs()[1]->shape), "[?,3]");
  verify_graph(*g);
}

TEST(LoopInference, KnownTripCountWithoutConditionGivesTheScanLength) {
  auto g = test::loop_with_nested_if();
  Value* m = g->inputs()[0];
  g->inputs().erase(g->inputs().begin());
  m->constant = test::scalar_i64(6);
  infer_graph(*g);
  EXPECT_EQ(sym_shape_to_string(g->outputs()[1]->shape), "[6,3]");
}

TEST(LoopInference, RefusesACarriedValueThatChangesType) {
  GraphBuilder body("body");
  body.input("i", DataType::kInt64, SymShape{});
  Value* go = body.input("go", DataType::kBool, SymShape{});
  Value* v = body.input("v", DataType::kFloat32, std::nullopt);
  body.output(body.op("Identity", {go}, "go_out"));
  body.output(body.op("Shape", {v}, "shape"));
  GraphBuilder main("g");
  Value* m = main.input("M", DataType::kInt64, SymShape{});
  Value* v0 = main.input("v0", DataType::kFloat32, SymShape{2});
  main.op("Loop", {m, nullptr, v0}, "v", attrs({{"body", body.subgraph()}}));
  std::string msg = error_of([&] { main.finish(); });
  EXPECT_NE(msg.find("(Loop)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("loop-carried value 0 starts as float32"), std::string::npos) << msg;
}

TEST(LoopInference, RefusesABodyOfTheWrongArity) {
  GraphBuilder body("body");
  body.input("i", DataType::kInt64, SymShape{});
  Value* go = body.input("go", DataType::kBool, SymShape{});
  body.output(body.op("Identity", {go}, "go_out"));
  GraphBuilder main("g");
  Value* m = main.input("M", DataType::kInt64, SymShape{});
  Value* v0 = main.input("v0", DataType::kFloat32, SymShape{2});
  main.op("Loop", {m, nullptr, v0}, "v", attrs({{"body", body.subgraph()}}));
  std::string msg = error_of([&] { main.finish(); });
  EXPECT_NE(msg.find("subgraph 'body' takes 2 inputs, but the node gives it 3"), std::string::npos)
      << msg;
}

TEST(ScanInference, RefusesScanInputsOfDifferentLengths) {
  GraphBuilder body("body");
  Value* a = body.input("a", DataType::kFloat32, std::nullopt);
  Value* b = body.input("b", DataType::kFloat32, std::nullopt);
  body.output(body.op("Add", {a, b}, "sum"));
  GraphBuilder main("g");
  Value* x = main.input("x", DataType::kFloat32, SymShape{3, 2});
  Value* y = main.input("y", DataType::kFloat32, SymShape{4, 2});
  main.op("Scan", {x, y}, "sums",
          attrs({{"body", body.subgraph()}, {"num_scan_inputs", int64_t{2}}}));
  std::string msg = error_of([&] { main.finish(); });
  EXPECT_NE(msg.find("(Scan)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("different lengths (3 and 4)"), std::string::npos) << msg;
}

TEST(ControlFlowVerifier, ChecksSubgraphsAndNamesTheirOwner) {
  // A subgraph that reads a value of the outer graph (not closed) is refused.
  auto g = test::if_with_captures();
  auto broken = std::make_shared<Graph>();
  Value* stray = g->inputs()[1];
  Value* out = broken->add_value("o");
  broken->add_node("Relu", "r", {stray}, {out});
  broken->outputs().push_back(out);
  g->nodes()[0]->attrs.set("then_branch", GraphAttr(broken));
  std::string msg = error_of([&] { verify_graph(*g); });
  EXPECT_NE(msg.find("in subgraph 'then_branch' of node 'If_0' (If)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a tensor of this graph"), std::string::npos) << msg;
}

TEST(ControlFlowPrinter, PrintsSubgraphsIndentedUnderTheirNode) {
  std::string text = print_graph(*test::if_with_captures());
  EXPECT_NE(text.find("%out: float32[3] = If(%cond, %x, %y) {else_branch=graph<else: 2 inputs, "
                      "1 nodes, 1 outputs>"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    then_branch: graph then(%x: float32[3], %y: float32[3]) {\n"
                      "      %sum: float32[3] = Add(%x, %y)\n"
                      "      return %sum\n"
                      "    }\n"),
            std::string::npos)
      << text;
}

TEST(ControlFlowAttributes, SubgraphsCompareByIdentity) {
  auto g = test::if_with_captures();
  Attributes a = g->nodes()[0]->attrs;
  Attributes b = a;
  EXPECT_TRUE(a == b);
  b.set("then_branch", GraphAttr(a.get_graph("then_branch")->clone()));
  EXPECT_FALSE(a == b);
  Attributes wrong;
  wrong.set_owner("node 'n' (If)");
  wrong.set("then_branch", int64_t{1});
  std::string msg = error_of([&] { wrong.get_graph("then_branch"); });
  EXPECT_NE(msg.find("should be a graph"), std::string::npos) << msg;
}

}  // namespace
}  // namespace kiln::ir
