// fuse_pointwise on hand-built graphs: chains and DAGs become one Pointwise layer whose results
// equal the unfused graph's bit for bit; values read outside a group stay outputs; mixed shapes,
// cycles and non-float types are left alone.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "ir/pointwise_program.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Dim;
using test::attrs;
using test::ops;
using test::PassGraphBuilder;

size_t count(const ir::Graph& g, const std::string& op) {
  size_t n = 0;
  for (const auto& node : g.nodes()) n += node->op == op;
  return n;
}

TEST(FusePointwise, FusesAChainIntoOneLayerWithIdenticalResults) {
  PassGraphBuilder b;
  auto* x = b.input("x", {2, 3, 40});
  auto* bias = b.constant({40}, std::vector<float>(40, 0.25f));
  auto* y =
      b.op("Sigmoid", {b.op("Relu", {b.op("Add", {b.op("Mul", {x, b.scalar(0.5f)}), bias})})});
  b.output(y);
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  ASSERT_EQ(ops(*after), std::vector<std::string>{"Pointwise"});
  const ir::Node& n = *after->nodes()[0];
  EXPECT_EQ(n.inputs.size(), 2u);  // x and the bias; 0.5 became an immediate
  EXPECT_EQ(n.origins.size(), 4u);
  EXPECT_EQ(after->outputs()[0]->name, y->name);
  // Running the pass again finds nothing more to do.
  EXPECT_FALSE(fuse_pointwise(*after));
}

TEST(FusePointwise, KeepsValuesReadOutsideTheGroupAsOutputs) {
  PassGraphBuilder b;
  auto* x = b.input("x", {Dim::symbolic("batch"), 8});
  auto* w = b.constant({8, 8}, std::vector<float>(64, 0.1f));
  auto* a = b.op("Add", {x, b.scalar(1.0f)});
  auto* r = b.op("Tanh", {a});
  auto* m = b.op("MatMul", {a, w});  // reads a outside the group
  auto* y = b.op("Mul", {a, r});
  b.output(y);
  b.output(m);
  b.output(r);  // a graph output inside the group
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0, {{"batch", 3}});
  EXPECT_EQ(count(*after, "Pointwise"), 1u);
  EXPECT_EQ(count(*after, "MatMul"), 1u);
  EXPECT_EQ(after->nodes().size(), 2u);
  for (const auto& n : after->nodes()) {
    if (n->op == "Pointwise") EXPECT_EQ(n->outputs.size(), 3u);  // a, r, y
  }
  EXPECT_EQ(after->outputs()[2]->name, r->name);
}

TEST(FusePointwise, NeverMakesACycle) {
  // e = Exp(x) feeds Softmax (not fusible) and, with it, c = e + Softmax(e); fusing e with c would
  // make the fused layer depend on itself through Softmax.
  PassGraphBuilder b;
  auto* x = b.input("x", {2, 5});
  auto* e = b.op("Exp", {x});
  auto* s = b.op("Softmax", {e}, attrs({{"axis", int64_t{-1}}}));
  auto* c = b.op("Add", {e, s});
  b.output(b.op("Relu", {c}));
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Exp", "Softmax", "Pointwise"}));
}

TEST(FusePointwise, NeverMakesACycleBetweenTwoGroups) {
  // Two chains crossing over through non-fusible layers: a1 -> MatMul -> b2 and b1 -> MatMul ->
  // a2. Fusing {a1, a2} and {b1, b2} would make each fused layer wait on the other.
  PassGraphBuilder b;
  auto* x = b.input("x", {4, 4});
  auto* w = b.constant({4, 4}, std::vector<float>(16, 0.2f));
  auto* a1 = b.op("Relu", {x});
  auto* b1 = b.op("Sigmoid", {x});
  auto* b2 = b.op("Add", {b1, b.op("MatMul", {a1, w})});
  auto* a2 = b.op("Mul", {a1, b.op("MatMul", {b1, w})});
  b.output(a2);
  b.output(b2);
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  EXPECT_LE(count(*after, "Pointwise"), 1u);
}

TEST(FusePointwise, KeepsSmallerShapesOutOfAGroup) {
  // LayerNorm-like: Sqrt(var + eps) is [2,1]; recomputing it per element of [2,6] would be waste,
  // so it forms its own group.
  PassGraphBuilder b;
  auto* x = b.input("x", {2, 6});
  auto* var = b.input("var", {2, 1});
  auto* sd = b.op("Sqrt", {b.op("Add", {var, b.scalar(1e-5f)})});
  b.output(b.op("Relu", {b.op("Div", {x, sd})}));
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Pointwise", "Pointwise"}));
}

TEST(FusePointwise, Float16ResultsMatchTheUnfusedLayersBitForBit) {
  PassGraphBuilder b;
  auto* x = b.input("x", {3, 50}, DataType::kFloat16);
  auto* h = b.op("Mul", {x, b.scalar(0.7f, DataType::kFloat16)});
  auto* e = b.op("Erf", {h});
  auto* y = b.op("Mul", {x, b.op("Add", {e, b.scalar(1.0f, DataType::kFloat16)})});
  b.output(b.op("Div", {y, b.scalar(3.0f, DataType::kFloat16)}));
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  EXPECT_EQ(ops(*after), std::vector<std::string>{"Pointwise"});
}

TEST(FusePointwise, LeavesIntegerAndSingleLayersAlone) {
  PassGraphBuilder b;
  auto* i = b.input("i", {4}, DataType::kInt32);
  auto* x = b.input("x", {4});
  b.output(b.op("Abs", {b.op("Neg", {i})}));
  b.output(b.op("Relu", {x}));
  ir::infer_graph(b.graph());
  EXPECT_FALSE(fuse_pointwise(b.graph()));
}

// Each fusible op, fused with a Neg after it, gives the bits the unfused op gives.
struct OpCase {
  const char* op;
  int extra_inputs;  // scalars or tensors after x
  ir::Attributes attributes;
};

TEST(FusePointwise, EveryOpMatchesItsUnfusedKernel) {
  const std::vector<OpCase> cases = {
      {"Neg", 0, {}},
      {"Abs", 0, {}},
      {"Exp", 0, {}},
      {"Log", 0, {}},
      {"Sqrt", 0, {}},
      {"Reciprocal", 0, {}},
      {"Erf", 0, {}},
      {"Tanh", 0, {}},
      {"Sigmoid", 0, {}},
      {"Relu", 0, {}},
      {"Floor", 0, {}},
      {"Ceil", 0, {}},
      {"Round", 0, {}},
      {"Sin", 0, {}},
      {"Cos", 0, {}},
      {"Softplus", 0, {}},
      {"Softsign", 0, {}},
      {"Mish", 0, {}},
      {"HardSwish", 0, {}},
      {"Add", 1, {}},
      {"Sub", 1, {}},
      {"Mul", 1, {}},
      {"Div", 1, {}},
      {"Pow", 1, {}},
      {"PRelu", 1, {}},
      {"Sum", 1, {}},
      {"Max", 2, {}},
      {"Min", 2, {}},
      {"Gelu", 0, {}},
      {"Gelu", 0, attrs({{"approximate", std::string("tanh")}})},
      {"LeakyRelu", 0, attrs({{"alpha", 0.3f}})},
      {"Elu", 0, attrs({{"alpha", 0.7f}})},
      {"Celu", 0, attrs({{"alpha", 1.5f}})},
      {"ThresholdedRelu", 0, attrs({{"alpha", 0.2f}})},
      {"HardSigmoid", 0, attrs({{"alpha", 0.3f}, {"beta", 0.4f}})},
      {"Selu", 0, {}},
      {"Clip", 2, {}},
  };
  for (DataType dtype : {DataType::kFloat32, DataType::kFloat64, DataType::kBFloat16}) {
    for (const OpCase& c : cases) {
      SCOPED_TRACE(std::string(c.op) + " " + std::string(to_string(dtype)));
      PassGraphBuilder b;
      auto* x = b.input("x", {2, 3, 7}, dtype);
      std::vector<ir::Value*> ins = {x};
      if (std::string(c.op) == "Clip") {
        ins.push_back(b.scalar(-1.0f, dtype));
        ins.push_back(b.input("hi", {}, dtype));
      } else {
        for (int k = 0; k < c.extra_inputs; ++k)
          ins.push_back(b.input("y" + std::to_string(k), {3, 1}, dtype));
      }
      // Log, Sqrt and Pow of negatives give NaN, which compares by bits too.
      b.output(b.op("Neg", {b.op(c.op, ins, c.attributes)}));
      auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
      EXPECT_EQ(ops(*after), std::vector<std::string>{"Pointwise"});
    }
  }
}

TEST(FusePointwise, AbsorbsExistingPointwiseLayers) {
  PassGraphBuilder b;
  auto* x = b.input("x", {5});
  auto* a = b.op("Relu", {b.op("Add", {x, b.scalar(1.0f)})});
  b.output(a);
  ir::infer_graph(b.graph());
  ASSERT_TRUE(fuse_pointwise(b.graph()));
  ASSERT_EQ(ops(b.graph()), std::vector<std::string>{"Pointwise"});
  // A later rewrite exposes another elementwise layer after the fused one.
  b.graph().outputs()[0] = b.op("Exp", {a});
  auto after = test::apply_and_compare(b.graph(), fuse_pointwise, 0);
  EXPECT_EQ(ops(*after), std::vector<std::string>{"Pointwise"});
  ir::PointwiseProgram p = ir::PointwiseProgram::load(after->nodes()[0]->attrs, 1, 1, "test");
  EXPECT_EQ(p.code.size(), 4u) << p.to_string();  // Const 1, Add, Relu, Exp
}

}  // namespace
}  // namespace kiln::passes
