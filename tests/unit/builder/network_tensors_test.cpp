// What a Network says about its tensors (inputs, outputs, every tensor, constants' data), new
// input shapes with inference run again (and nothing changed when they do not fit), copies that
// are independent, and the ONNX op types the parser takes.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"

namespace kiln {
namespace {

// x[batch,4] -> MatMul w[4,3] -> Relu -> y, plus a shape-only branch nothing outputs.
Network mlp() {
  Network net;
  net.add_input("x", DataType::kFloat32, {-1, 4});
  net.add_constant("w",
                   Tensor::from_vector(DataType::kFloat32, {4, 3}, std::vector<float>(12, 0.5f)));
  net.add_layer("MatMul", {"x", "w"}, {}, "h");
  net.mark_output(net.add_layer("Relu", {"h"}, {}, "y")[0]);
  return net;
}

std::vector<std::string> names(const std::vector<TensorDesc>& ts) {
  std::vector<std::string> out;
  for (const TensorDesc& t : ts) out.push_back(t.name);
  return out;
}

TEST(NetworkTensors, ListsInputsOutputsAndEveryTensor) {
  Network net = mlp();
  std::vector<TensorDesc> inputs = net.inputs();
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].name, "x");
  EXPECT_EQ(inputs[0].dims, (std::vector<int64_t>{-1, 4}));
  EXPECT_TRUE(inputs[0].rank_known);
  EXPECT_EQ(names(net.outputs()), (std::vector<std::string>{"y"}));
  EXPECT_EQ(names(net.tensors()), (std::vector<std::string>{"x", "w", "h", "y"}));
  EXPECT_EQ(net.describe("h").dims, (std::vector<int64_t>{-1, 3}));
}

TEST(NetworkTensors, ConstantGivesWeightDataOnly) {
  Network net = mlp();
  std::optional<Tensor> w = net.constant("w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->shape(), (Shape{4, 3}));
  EXPECT_EQ(w->data<float>()[11], 0.5f);
  EXPECT_FALSE(net.constant("x"));
  EXPECT_FALSE(net.constant("h"));
  EXPECT_FALSE(net.constant("no such tensor"));
}

TEST(NetworkTensors, InputShapesPropagateThroughInference) {
  Network net = mlp();
  net.set_input_shapes({{"x", {8, 4}}});
  EXPECT_EQ(net.inputs()[0].dims, (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(net.describe("h").dims, (std::vector<int64_t>{8, 3}));
  EXPECT_EQ(net.outputs()[0].dims, (std::vector<int64_t>{8, 3}));
  // The network stays usable: an output marked afterwards, then a build and a run at that shape.
  net.mark_output("h");
  auto engine = build_engine(net, BuilderConfig{});
  std::vector<Tensor> out =
      engine->create_execution_context()->execute({{"x", Tensor(DataType::kFloat32, {8, 4})}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].shape(), (Shape{8, 3}));
}

void expect_refused(Network& net, const std::map<std::string, Shape>& shapes,
                    const std::string& part) {
  try {
    net.set_input_shapes(shapes);
    FAIL() << "accepted shapes mentioning " << part;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(NetworkTensors, InputShapesThatDoNotFitChangeNothing) {
  Network net = mlp();
  expect_refused(net, {{"h", {2, 3}}}, "no input of that name");
  expect_refused(net, {{"x", {2, -3}}}, "dimension -3");
  expect_refused(net, {{"x", {2, 5}}}, "node 'h' (MatMul)");  // 5 columns against w's 4 rows
  EXPECT_EQ(net.inputs()[0].dims, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(net.describe("h").dims, (std::vector<int64_t>{-1, 3}));
}

TEST(NetworkTensors, ClonesAreIndependent) {
  Network net = mlp();
  Network copy = net.clone();
  copy.mark_output("h");
  copy.set_input_shapes({{"x", {2, 4}}});
  copy.add_layer("Neg", {"y"}, {}, "z");
  EXPECT_EQ(names(net.outputs()), (std::vector<std::string>{"y"}));
  EXPECT_EQ(net.inputs()[0].dims, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(names(net.tensors()).size(), 4u);
  EXPECT_EQ(names(copy.outputs()), (std::vector<std::string>{"y", "h"}));
  // Constant data is shared, not copied: constants never change.
  EXPECT_EQ(copy.constant("w")->raw(), net.constant("w")->raw());
}

TEST(NetworkTensors, SupportedOnnxOpsAreTheOpTableAndConstant) {
  EXPECT_TRUE(supports_onnx_op("Relu"));
  EXPECT_TRUE(supports_onnx_op("Conv"));
  EXPECT_TRUE(supports_onnx_op("Constant"));
  EXPECT_FALSE(supports_onnx_op("FooOp"));
  EXPECT_FALSE(supports_onnx_op(""));
  EXPECT_FALSE(supports_onnx_op("relu"));  // op types are case-sensitive
}

}  // namespace
}  // namespace kiln
