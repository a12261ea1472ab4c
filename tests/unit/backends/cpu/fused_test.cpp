// FusedConv and FusedMatMul kernels against the unfused graph they replace (Conv/ConvTranspose/
// Gemm/MatMul, bias, residual Add, each activation, in both residual orders), on the float32
// oneDNN path and the float64/float16 reference paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/float_types.hpp"
#include "ir/activation.hpp"
#include "ir/op_registry.hpp"
#include "unit/graph_run_util.hpp"

namespace kiln {
namespace {

using ir::ActivationKind;
using ir::Graph;
using ir::Value;

constexpr float kInf = std::numeric_limits<float>::infinity();

// The activations with the parameters the tests use.
std::vector<ir::Activation> all_activations() {
  return {{ActivationKind::kNone},
          {ActivationKind::kRelu},
          {ActivationKind::kLeakyRelu, 0.1f},
          {ActivationKind::kClip, 0.0f, 6.0f},
          {ActivationKind::kClip, -kInf, 0.25f},
          {ActivationKind::kSigmoid},
          {ActivationKind::kSilu},
          {ActivationKind::kGelu},
          {ActivationKind::kGeluTanh},
          {ActivationKind::kHardSwish},
          {ActivationKind::kHardSigmoid, 0.3f, 0.4f},
          {ActivationKind::kTanh},
          {ActivationKind::kElu, 0.7f}};
}

Tensor cast_to(const Tensor& t, DataType dtype) {
  if (dtype == DataType::kFloat32) return t;
  Tensor out(dtype, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = t.data<float>()[i];
    if (dtype == DataType::kFloat64) out.data<double>()[i] = v;
    if (dtype == DataType::kFloat16) out.data<Half>()[i] = Half(v);
  }
  return out;
}

Tensor scalar(DataType dtype, float v) {
  return cast_to(Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{v}), dtype);
}

// The standalone nodes computing `act` on `x`.
Value* add_activation(Graph& g, Value* x, const ir::Activation& a, DataType dtype) {
  if (a.kind == ActivationKind::kNone) return x;
  Value* y = g.add_value(g.unique_value_name("act"));
  auto node = [&](const std::string& op, std::vector<Value*> in) {
    return g.add_node(op, g.unique_node_name(op), std::move(in), {y});
  };
  switch (a.kind) {
    case ActivationKind::kRelu:
      node("Relu", {x});
      break;
    case ActivationKind::kLeakyRelu:
      node("LeakyRelu", {x})->attrs.set("alpha", a.alpha);
      break;
    case ActivationKind::kClip:
      node("Clip", {x, a.alpha == -kInf ? nullptr : g.add_constant("lo", scalar(dtype, a.alpha)),
                    g.add_constant("hi", scalar(dtype, a.beta))});
      break;
    case ActivationKind::kSigmoid:
      node("Sigmoid", {x});
      break;
    case ActivationKind::kSilu: {
      Value* s = g.add_value(g.unique_value_name("sig"));
      g.add_node("Sigmoid", g.unique_node_name("Sigmoid"), {x}, {s});
      node("Mul", {x, s});
      break;
    }
    case ActivationKind::kGelu:
      node("Gelu", {x});
      break;
    case ActivationKind::kGeluTanh:
      node("Gelu", {x})->attrs.set("approximate", std::string("tanh"));
      break;
    case ActivationKind::kHardSwish:
      node("HardSwish", {x});
      break;
    case ActivationKind::kHardSigmoid: {
      ir::Node* n = node("HardSigmoid", {x});
      n->attrs.set("alpha", a.alpha);
      n->attrs.set("beta", a.beta);
      break;
    }
    case ActivationKind::kTanh:
      node("Tanh", {x});
      break;
    case ActivationKind::kElu:
      node("Elu", {x})->attrs.set("alpha", a.alpha);
      break;
    case ActivationKind::kNone:
      break;
  }
  return y;
}

Value* add(Graph& g, Value* a, Value* b) {
  Value* y = g.add_value(g.unique_value_name("sum"));
  g.add_node("Add", g.unique_node_name("Add"), {a, b}, {y});
  return y;
}

enum class Residual { kNone, kBefore, kAfter };

struct Case {
  std::string op;  // Conv, ConvTranspose, Gemm, MatMul
  Shape x, w, bias, z;
  ir::Attributes attrs;
};

// Runs the unfused graph (op, residual, activation, residual) and the one fused node, returning
// the worst relative difference.
double compare(const Case& c, const ir::Activation& act, Residual res, DataType dtype) {
  Tensor x = cast_to(test::random_tensor(c.x, 1), dtype);
  Tensor w = cast_to(test::random_tensor(c.w, 2), dtype);
  Tensor b = c.bias.empty() ? Tensor() : cast_to(test::random_tensor(c.bias, 3), dtype);
  Tensor z = cast_to(test::random_tensor(c.z, 4, -2.0f, 2.0f), dtype);
  std::map<std::string, Tensor> feeds{{"x", x}, {"z", z}};
  auto build = [&](bool fused) {
    auto g = std::make_unique<Graph>();
    Value* xv = g->add_value("x", dtype, ir::to_sym_shape(c.x));
    Value* zv = g->add_value("z", dtype, ir::to_sym_shape(c.z));
    g->inputs() = {xv, zv};
    Value* wv = g->add_constant("w", w);
    Value* bv = b.defined() ? g->add_constant("b", b) : nullptr;
    Value* y = g->add_value("y");
    if (fused) {
      bool conv = c.op == "Conv" || c.op == "ConvTranspose";
      ir::Node* n = g->add_node(conv ? "FusedConv" : "FusedMatMul", "fused",
                                {xv, wv, bv, res == Residual::kNone ? nullptr : zv}, {y});
      n->attrs = c.attrs;
      if (conv) n->attrs.set("transposed", int64_t{c.op == "ConvTranspose"});
      ir::write_activation(n->attrs, act);
      n->attrs.set("residual_before_activation", int64_t{res != Residual::kAfter});
    } else {
      Value* v = g->add_value("linear");
      std::vector<Value*> in{xv, wv};
      if (bv && c.op != "MatMul") in.push_back(bv);
      g->add_node(c.op, "linear", in, {v})->attrs = c.attrs;
      if (bv && c.op == "MatMul") v = add(*g, v, bv);
      if (res == Residual::kBefore) v = add(*g, v, zv);
      v = add_activation(*g, v, act, dtype);
      if (res == Residual::kAfter) v = add(*g, v, zv);
      g->add_node("Identity", "out", {v}, {y});
    }
    g->outputs() = {y};
    ir::infer_graph(*g);
    return g;
  };
  auto unfused_graph = build(false);
  auto fused_graph = build(true);
  Tensor expected = test::run_graph(*unfused_graph, feeds)[0];
  Tensor got = test::run_graph(*fused_graph, feeds)[0];
  return test::max_relative_error(got, expected);
}

double tolerance(DataType dtype) {
  return dtype == DataType::kFloat64 ? 1e-12 : dtype == DataType::kFloat16 ? 4e-3 : 3e-5;
}

Case conv_case() {
  Case c{"Conv", {2, 4, 7, 6}, {6, 2, 3, 3}, {6}, {2, 6, 4, 3}, {}};
  c.attrs.set("group", int64_t{2});
  c.attrs.set("strides", std::vector<int64_t>{2, 2});
  c.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 0});
  return c;
}

Case conv_transpose_case() {
  Case c{"ConvTranspose", {1, 4, 3, 4}, {4, 3, 3, 2}, {6}, {1, 6, 7, 9}, {}};
  c.attrs.set("group", int64_t{2});
  c.attrs.set("strides", std::vector<int64_t>{2, 2});
  c.attrs.set("output_padding", std::vector<int64_t>{0, 1});
  c.attrs.set("pads", std::vector<int64_t>{0, 0, 0, 0});
  return c;
}

Case gemm_case() {
  Case c{"Gemm", {5, 3}, {4, 5}, {1, 4}, {3, 4}, {}};
  c.attrs.set("transA", int64_t{1});
  c.attrs.set("transB", int64_t{1});
  c.attrs.set("alpha", 0.75f);
  return c;
}

Case matmul_case() {
  return {"MatMul", {2, 3, 5, 8}, {8, 6}, {6}, {2, 3, 5, 6}, {}};
}

class FusedKernel : public ::testing::TestWithParam<std::tuple<int, DataType>> {};

TEST_P(FusedKernel, MatchesUnfusedGraphForEveryActivationAndResidualOrder) {
  auto [which, dtype] = GetParam();
  Case c = which == 0   ? conv_case()
           : which == 1 ? conv_transpose_case()
           : which == 2 ? gemm_case()
                        : matmul_case();
  for (const ir::Activation& act : all_activations()) {
    for (Residual res : {Residual::kNone, Residual::kBefore, Residual::kAfter}) {
      SCOPED_TRACE(c.op + " " + ir::to_string(act) + " residual " +
                   std::to_string(static_cast<int>(res)) + " " + std::string(to_string(dtype)));
      EXPECT_LE(compare(c, act, res, dtype), tolerance(dtype));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, FusedKernel,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(DataType::kFloat32,
                                                              DataType::kFloat64,
                                                              DataType::kFloat16)));

TEST(FusedKernel, MatMulBatchBroadcastAndFullBias) {
  // A batch of 1 broadcast against B's batch of 3, and a bias with a row per output row.
  Case c{"MatMul", {1, 4, 5}, {3, 5, 2}, {4, 2}, {3, 4, 2}, {}};
  for (DataType dtype : {DataType::kFloat32, DataType::kFloat64}) {
    EXPECT_LE(compare(c, {ActivationKind::kRelu}, Residual::kBefore, dtype), tolerance(dtype));
  }
}

TEST(FusedKernel, FusedMatMulTransposesLastTwoAxesOfBatchedOperands) {
  // FusedMatMul(A, B, transA, transB) on rank-3 operands equals MatMul of the transposes.
  Tensor a = test::random_tensor({2, 5, 4}, 11);
  Tensor b = test::random_tensor({2, 3, 5}, 12);
  auto build = [&](bool fused) {
    auto g = std::make_unique<Graph>();
    Value* av = g->add_value("a", DataType::kFloat32, ir::to_sym_shape(a.shape()));
    Value* bv = g->add_value("b", DataType::kFloat32, ir::to_sym_shape(b.shape()));
    g->inputs() = {av, bv};
    Value* y = g->add_value("y");
    if (fused) {
      ir::Node* n = g->add_node("FusedMatMul", "f", {av, bv}, {y});
      n->attrs.set("transA", int64_t{1});
      n->attrs.set("transB", int64_t{1});
      n->attrs.set("alpha", 2.0f);
    } else {
      Value* at = g->add_value("at");
      Value* bt = g->add_value("bt");
      Value* p = g->add_value("p");
      g->add_node("Transpose", "ta", {av}, {at})->attrs.set("perm", std::vector<int64_t>{0, 2, 1});
      g->add_node("Transpose", "tb", {bv}, {bt})->attrs.set("perm", std::vector<int64_t>{0, 2, 1});
      g->add_node("MatMul", "mm", {at, bt}, {p});
      g->add_node("Mul", "scale", {p, g->add_constant("two", scalar(DataType::kFloat32, 2.0f))},
                  {y});
    }
    g->outputs() = {y};
    ir::infer_graph(*g);
    return g;
  };
  std::map<std::string, Tensor> feeds{{"a", a}, {"b", b}};
  Tensor expected = test::run_graph(*build(false), feeds)[0];
  Tensor got = test::run_graph(*build(true), feeds)[0];
  EXPECT_EQ(got.shape(), (Shape{2, 4, 3}));
  EXPECT_LE(test::max_relative_error(got, expected), 1e-5);
}

TEST(FusedKernel, InferenceRejectsMismatchedResidualAndUnknownActivation) {
  Graph g;
  Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  Value* z = g.add_value("z", DataType::kFloat32, ir::SymShape{2, 5});
  g.inputs() = {x, z};
  Value* y = g.add_value("y");
  ir::Node* n =
      g.add_node("FusedMatMul", "f",
                 {x, g.add_constant("w", test::random_tensor({3, 4}, 1)), nullptr, z}, {y});
  g.outputs() = {y};
  EXPECT_THROW(ir::infer_graph(g), Error);
  n->inputs[3] = nullptr;
  n->attrs.set("activation", std::string("Swishy"));
  EXPECT_THROW(ir::infer_graph(g), Error);
  n->attrs.set("activation", std::string("Relu"));
  ir::infer_graph(g);
  EXPECT_EQ(ir::sym_shape_to_string(y->shape), "[2,4]");
}

}  // namespace
}  // namespace kiln
