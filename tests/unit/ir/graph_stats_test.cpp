// FLOP formulas and parameter counting on hand-built graphs with known shapes.
#include "ir/graph_stats.hpp"

#include <gtest/gtest.h>

#include "ir/activation_math.hpp"

namespace kiln::ir {
namespace {

Value* val(Graph& g, const std::string& name, SymShape shape) {
  return g.add_value(name, DataType::kFloat32, std::move(shape));
}

TEST(GraphStats, ConvFlopsCountMultiplyAddsTwice) {
  Graph g;
  Value* x = val(g, "x", {1, 8, 16, 16});
  Value* w = g.add_constant("w", Tensor(DataType::kFloat32, {4, 2, 3, 3}));  // group 4
  Value* b = g.add_constant("b", Tensor(DataType::kFloat32, {4}));
  Value* y = val(g, "y", {1, 4, 16, 16});
  Node* n = g.add_node("Conv", "conv", {x, w, b}, {y});
  double out = 4 * 16 * 16;
  EXPECT_EQ(node_flops(*n), 2 * out * 2 * 3 * 3 + out);
}

TEST(GraphStats, ConvTransposeScattersEveryInput) {
  Graph g;
  Value* x = val(g, "x", {1, 3, 5, 5});
  Value* w = g.add_constant("w", Tensor(DataType::kFloat32, {3, 6, 2, 2}));
  Value* y = val(g, "y", {1, 6, 10, 10});
  Node* n = g.add_node("ConvTranspose", "ct", {x, w}, {y});
  EXPECT_EQ(node_flops(*n), 2.0 * (3 * 5 * 5) * (6 * 2 * 2));
}

TEST(GraphStats, GemmMatMulEinsum) {
  Graph g;
  Value* a = val(g, "a", {7, 5});  // transA: K = 7
  Value* b = val(g, "b", {7, 3});
  Value* c = val(g, "c", {5, 3});
  Node* gemm = g.add_node("Gemm", "gemm", {a, b}, {c});
  gemm->attrs.set("transA", int64_t{1});
  EXPECT_EQ(node_flops(*gemm), 2.0 * 5 * 3 * 7);

  Value* p = val(g, "p", {2, 4, 6, 8});
  Value* q = val(g, "q", {8, 10});
  Value* r = val(g, "r", {2, 4, 6, 10});
  EXPECT_EQ(node_flops(*g.add_node("MatMul", "mm", {p, q}, {r})), 2.0 * 2 * 4 * 6 * 10 * 8);

  Value* e = val(g, "e", {3, 4, 5});
  Node* es = g.add_node("Einsum", "es", {p, q}, {e});
  es->attrs.set("equation", std::string("bhik,kj->bhij"));
  EXPECT_EQ(node_flops(*es), 2.0 * 2 * 4 * 6 * 8 * 10);
  es->attrs.set("equation", std::string("...k,kj->...j"));
  EXPECT_EQ(node_flops(*es), std::nullopt);
}

TEST(GraphStats, ElementwiseDataMovementAndUnknownShapes) {
  Graph g;
  Value* x = val(g, "x", {2, 3, 4});
  Value* y = val(g, "y", {2, 3, 4});
  EXPECT_EQ(node_flops(*g.add_node("Relu", "relu", {x}, {y})), 24.0);
  Value* z = val(g, "z", {24});
  EXPECT_EQ(node_flops(*g.add_node("Reshape", "reshape", {y}, {z})), 0.0);
  Value* s = g.add_value("s", DataType::kFloat32, SymShape{Dim::symbolic("N"), 3});
  Value* t = g.add_value("t", DataType::kFloat32, SymShape{Dim::symbolic("N"), 3});
  Node* add = g.add_node("Add", "add", {s, s}, {t});
  EXPECT_EQ(node_flops(*add), std::nullopt);
  std::set<std::string> as_one;
  EXPECT_EQ(node_flops(*add, &as_one), 3.0);  // per unit of N
  EXPECT_EQ(as_one, std::set<std::string>{"N"});
  Value* u = g.add_value("u", DataType::kFloat32);
  EXPECT_EQ(node_flops(*g.add_node("MatMul", "mm", {t, t}, {u}), &as_one), std::nullopt);
  EXPECT_EQ(node_flops(*g.add_node("MysteryOp", "m", {x}, {u})), std::nullopt);
}

// Every formula comes from the op's entry in the op table (OpTraits::flops).
TEST(GraphStats, PerElementFormulasAndFusedProgramsComeFromTheOpTable) {
  Graph g;
  Value* x = val(g, "x", {2, 3, 4});
  auto flops = [&](const std::string& op, std::vector<Value*> ins, SymShape out) {
    return node_flops(*g.add_node(op, op, ins, {val(g, op + "_out", std::move(out))}));
  };
  EXPECT_EQ(flops("Softmax", {x}, {2, 3, 4}), 3.0 * 24);
  EXPECT_EQ(flops("LayerNormalization", {x, val(g, "scale", {4})}, {2, 3, 4}), 5.0 * 24);
  EXPECT_EQ(flops("ReduceL2", {x}, {1, 1, 1}), 2.0 * 24);  // of the larger: the input
  EXPECT_EQ(flops("Swish", {x}, {2, 3, 4}), 24.0);
  EXPECT_EQ(flops("Cast", {x}, {2, 3, 4}), 0.0);
  EXPECT_EQ(flops("Scatter", {x, x, x}, {2, 3, 4}), 0.0);
  EXPECT_EQ(flops("RMSNormalization", {x, val(g, "gamma", {4})}, {2, 3, 4}), std::nullopt);
  // relu(x * 2): two instructions that compute, one constant.
  Node* p = g.add_node("Pointwise", "pw", {x}, {val(g, "pw_out", {2, 3, 4})});
  p->attrs.set("code",
               std::vector<int64_t>{static_cast<int64_t>(PointwiseOpcode::kConst), 0, -1, -1,
                                    static_cast<int64_t>(PointwiseOpcode::kMul), 0, 1, -1,
                                    static_cast<int64_t>(PointwiseOpcode::kRelu), 2, -1, -1});
  EXPECT_EQ(node_flops(*p), 2.0 * 24);
}

TEST(GraphStats, TotalsHistogramAndParameters) {
  Graph g;
  Value* x = val(g, "x", {1, 4});
  Value* w = g.add_constant("w", Tensor(DataType::kFloat32, {4, 6}));
  Value* w_again = g.add_constant("w_again", *w->constant);  // same buffer: counted once
  Value* q = g.add_constant("q", Tensor(DataType::kInt8, {10}));
  Value* shape = g.add_constant("shape", Tensor(DataType::kInt64, {2}));  // not a parameter
  g.add_constant("unused", Tensor(DataType::kFloat32, {100}));            // read by no node
  Value* h = val(g, "h", {1, 6});
  Value* h2 = val(g, "h2", {1, 6});
  Value* r = val(g, "r", {6, 1});
  Value* o = val(g, "o", {1, 6});
  g.add_node("MatMul", "mm", {x, w}, {h});
  g.add_node("MatMul", "mm2", {x, w_again}, {h2});
  g.add_node("Reshape", "rs", {h, shape}, {r});
  g.add_node("Mul", "mul", {h2, q}, {o});
  GraphStats s = graph_stats(g);
  EXPECT_EQ(s.parameters, 24 + 10);
  EXPECT_EQ(s.op_histogram.at("MatMul"), 2);
  EXPECT_EQ(s.op_histogram.at("Reshape"), 1);
  EXPECT_EQ(s.flops, 2 * (2.0 * 6 * 4) + 0 + 6);
  EXPECT_TRUE(s.uncounted.empty());
  EXPECT_TRUE(s.symbols_as_one.empty());
}

}  // namespace
}  // namespace kiln::ir
