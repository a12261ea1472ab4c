// The per-op precision rules: matrix work, cheap layers, sensitive layers (with the reductions and
// fused programs that depend on their size or contents) and ops whose types are fixed.
#include "builder/precision_policy.hpp"

#include <gtest/gtest.h>

#include "ir/pointwise_program.hpp"

namespace kiln::builder {
namespace {

// A graph with one node `op` reading x[shape] (and `extra` inputs); returns that node.
class OneNode {
 public:
  ir::Node& make(const std::string& op, ir::SymShape shape, std::vector<ir::Value*> extra = {}) {
    std::vector<ir::Value*> ins = {g.add_value("x", DataType::kFloat32, std::move(shape))};
    ins.insert(ins.end(), extra.begin(), extra.end());
    return *g.add_node(op, "n", ins, {g.add_value("y")});
  }
  ir::Value* axes(std::vector<int64_t> a) {
    auto n = static_cast<int64_t>(a.size());
    return g.add_constant("axes", Tensor::from_vector(DataType::kInt64, {n}, a));
  }
  ir::Graph g;
};

LayerClass class_of(const std::string& op) {
  OneNode one;
  return classify_layer(one.make(op, {2, 3})).cls;
}

TEST(PrecisionPolicy, ClassesOfPlainOps) {
  for (const char* op : {"Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm", "Einsum",
                         "ScaledDotProductAttention"}) {
    EXPECT_EQ(class_of(op), LayerClass::kMatrix) << op;
  }
  // Softmax, LogSoftmax and LayerNormalization compute in FP32 inside their kernels, so they
  // follow their neighbours with 16-bit inputs and outputs.
  for (const char* op :
       {"Relu", "Add", "Transpose", "Reshape", "MaxPool", "Concat", "Sigmoid", "BatchNormalization",
        "ReduceMean", "ReduceMax", "Softmax", "LogSoftmax", "LayerNormalization"}) {
    EXPECT_EQ(class_of(op), LayerClass::kFlexible) << op;
  }
  for (const char* op : {"RMSNormalization", "GroupNormalization", "Exp", "Log", "Pow", "CumSum",
                         "Range", "ReduceLogSumExp", "ReduceProd"}) {
    EXPECT_EQ(class_of(op), LayerClass::kSensitive) << op;
  }
  for (const char* op : {"If", "Loop", "QuantizeLinear", "DequantizeLinear", "ConstantOfShape"}) {
    EXPECT_EQ(class_of(op), LayerClass::kUnreducible) << op;
  }
  OneNode one;
  EXPECT_NE(classify_layer(one.make("Exp", {2, 3})).reason, "");  // said in the build log
}

TEST(PrecisionPolicy, SumsDependOnHowManyElementsTheyAdd) {
  OneNode a;
  EXPECT_EQ(classify_layer(a.make("ReduceSum", {8, 1024}, {a.axes({1})})).cls,
            LayerClass::kFlexible);
  OneNode b;
  LayerPolicy big = classify_layer(b.make("ReduceSum", {8, 1025}, {b.axes({-1})}));
  EXPECT_EQ(big.cls, LayerClass::kSensitive);
  EXPECT_NE(big.reason.find("1025"), std::string::npos) << big.reason;
  OneNode c;  // no axes: every element, 64 * 64
  EXPECT_EQ(classify_layer(c.make("ReduceSum", {64, 64})).cls, LayerClass::kSensitive);
  OneNode d;  // a symbolic dim: unknown, so FP32
  EXPECT_EQ(classify_layer(d.make("ReduceL1", {ir::Dim::symbolic("n"), 4}, {d.axes({0})})).cls,
            LayerClass::kSensitive);
  OneNode e;  // axes known only at run time
  ir::Value* runtime_axes = e.g.add_value("axes", DataType::kInt64, ir::SymShape{1});
  EXPECT_EQ(classify_layer(e.make("ReduceSum", {2, 2}, {runtime_axes})).cls,
            LayerClass::kSensitive);
}

TEST(PrecisionPolicy, FusedPointwiseProgramsWithExponentialsOrHugeConstantsKeepFp32) {
  auto program = [](std::vector<int64_t> code, std::vector<float> constants) {
    OneNode one;
    ir::Node& n = one.make("Pointwise", {4});
    n.attrs.set("code", code);
    n.attrs.set("constants", constants);
    n.attrs.set("outputs", std::vector<int64_t>{2});
    return classify_layer(n).cls;
  };
  auto op = [](ir::PointwiseOpcode o) { return static_cast<int64_t>(o); };
  // y = relu(x * 2)
  EXPECT_EQ(program({op(ir::PointwiseOpcode::kConst), 0, -1, -1, op(ir::PointwiseOpcode::kMul), 0,
                     1, -1, op(ir::PointwiseOpcode::kRelu), 2, -1, -1},
                    {2.0f}),
            LayerClass::kFlexible);
  // y = exp(x)
  EXPECT_EQ(program({op(ir::PointwiseOpcode::kExp), 0, -1, -1}, {}), LayerClass::kSensitive);
  // y = x * -1e9 (an attention mask): -inf in FP16
  EXPECT_EQ(
      program({op(ir::PointwiseOpcode::kConst), 0, -1, -1, op(ir::PointwiseOpcode::kMul), 0, 1, -1},
              {-1e9f}),
      LayerClass::kSensitive);
}

TEST(PrecisionPolicy, SlotsThatKeepOrIgnoreTheirType) {
  OneNode one;
  ir::Node& resize = one.make("Resize", {1, 1, 2, 2});
  EXPECT_FALSE(is_fixed_type_input(resize, 0));
  EXPECT_TRUE(is_fixed_type_input(resize, 1));
  EXPECT_TRUE(is_fixed_type_input(resize, 2));
  OneNode two;
  ir::Node& shape = two.make("Shape", {2});
  EXPECT_TRUE(accepts_any_type(shape, 0));
  EXPECT_FALSE(accepts_any_type(resize, 0));
}

}  // namespace
}  // namespace kiln::builder
