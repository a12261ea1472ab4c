// The verifier accepts well-formed graphs and names what is wrong in broken ones.
#include "ir/verifier.hpp"

#include <gtest/gtest.h>

#include "ir/printer.hpp"

namespace kiln::ir {
namespace {

std::unique_ptr<Graph> relu_add() {
  auto g = std::make_unique<Graph>();
  g->name = "tiny";
  Value* x = g->add_value("x", DataType::kFloat32, SymShape{Dim::symbolic("n"), 4});
  g->inputs().push_back(x);
  Value* k = g->add_constant(
      "k", Tensor::from_vector(DataType::kFloat32, {4}, std::vector<float>{1, 2, 3, 4}));
  Value* r = g->add_value("r", DataType::kFloat32, SymShape{Dim::symbolic("n"), 4});
  Value* y = g->add_value("y", DataType::kFloat32, SymShape{Dim::symbolic("n"), 4});
  g->add_node("Relu", "relu", {x}, {r});
  g->add_node("Add", "add", {r, k}, {y});
  g->outputs().push_back(y);
  return g;
}

std::string message_of(const Graph& g) {
  try {
    verify_graph(g);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Verifier, AcceptsWellFormedGraph) {
  auto g = relu_add();
  EXPECT_NO_THROW(verify_graph(*g));
}

TEST(Verifier, RejectsUseBeforeDefinition) {
  auto g = relu_add();
  std::swap(const_cast<std::unique_ptr<Node>&>(g->nodes()[0]),
            const_cast<std::unique_ptr<Node>&>(g->nodes()[1]));
  EXPECT_NE(message_of(*g).find("reads tensor 'r' before"), std::string::npos) << message_of(*g);
}

TEST(Verifier, RejectsUnknownOpAndBadArity) {
  auto g = relu_add();
  g->nodes()[0]->op = "NoSuchOp";
  EXPECT_NE(message_of(*g).find("NoSuchOp"), std::string::npos);
  g = relu_add();
  g->nodes()[1]->inputs.pop_back();
  EXPECT_NE(message_of(*g).find("node 'add'"), std::string::npos) << message_of(*g);
}

TEST(Verifier, RejectsDuplicateNamesAndUnproducedOutputs) {
  auto g = relu_add();
  g->add_value("x");
  EXPECT_NE(message_of(*g).find("two tensors are named 'x'"), std::string::npos);
  g = relu_add();
  g->outputs().push_back(g->add_value("dangling"));
  EXPECT_NE(message_of(*g).find("'dangling' is never produced"), std::string::npos);
}

TEST(Printer, PrintsOneLinePerNode) {
  auto g = relu_add();
  g->nodes()[1]->origins = {"onnx_add"};
  EXPECT_EQ(print_graph(*g),
            "graph tiny(%x: float32[n,4]) {\n"
            "  %r: float32[n,4] = Relu(%x)\n"
            "  %y: float32[n,4] = Add(%r, $k)  # from onnx_add\n"
            "  return %y\n"
            "}\n");
}

}  // namespace
}  // namespace kiln::ir
