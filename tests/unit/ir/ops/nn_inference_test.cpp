// Shape inference of the nn ops on symbolic shapes (build time): batch symbols survive Conv,
// pooling and MatMul, unknown spatial dims stay unknown, and bad shapes fail naming the node.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::ir {
namespace {

Dim sym(const std::string& s) {
  return Dim::symbolic(s);
}

// Runs inference for one node over the given input types; returns output i's type.
TensorType infer(const std::string& op, const Attributes& attrs,
                 std::vector<std::optional<TensorType>> inputs, size_t outputs = 1,
                 size_t index = 0) {
  Graph g;
  std::vector<Value*> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(g.add_value("in" + std::to_string(i)));
  for (size_t i = 0; i < outputs; ++i) outs.push_back(g.add_value("out" + std::to_string(i)));
  Node* n = g.add_node(op, "n", ins, outs);
  n->attrs = attrs;
  auto r = infer_node(*n, std::move(inputs));
  return *r.at(index);
}

TensorType f32(SymShape s) {
  return TensorType{DataType::kFloat32, std::move(s), nullptr};
}

TEST(ConvInference, KeepsBatchSymbolAndComputesSpatial) {
  Attributes a;
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  TensorType y = infer("Conv", a, {f32({sym("N"), 3, 224, Dim()}), f32({64, 3, 7, 7})});
  ASSERT_TRUE(y.shape);
  EXPECT_EQ((*y.shape)[0], sym("N"));
  EXPECT_EQ((*y.shape)[1].value, 64);
  EXPECT_EQ((*y.shape)[2].value, 110);  // (224 + 2 - 7) / 2 + 1
  EXPECT_FALSE((*y.shape)[3].known());
}

TEST(ConvInference, ChannelsLastReadsNhwcAndKrscAndKeepsSymbols) {
  Attributes a;
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("channels_last", int64_t{1});
  // x [N, H, W, C], w [K, R, S, C]: the same conv as the NCHW test above.
  TensorType y = infer("Conv", a, {f32({sym("N"), 224, Dim(), 3}), f32({64, 7, 7, 3})});
  ASSERT_TRUE(y.shape);
  EXPECT_EQ((*y.shape)[0], sym("N"));
  EXPECT_EQ((*y.shape)[1].value, 110);
  EXPECT_FALSE((*y.shape)[2].known());
  EXPECT_EQ((*y.shape)[3].value, 64);
  // FusedConv: the residual has the output's (channels-last) shape.
  a.set("activation", std::string("Relu"));
  TensorType z = f32({sym("N"), 110, 110, 64});
  TensorType fused =
      infer("FusedConv", a, {f32({sym("N"), 224, 224, 3}), f32({64, 7, 7, 3}), std::nullopt, z});
  EXPECT_EQ((*fused.shape)[3].value, 64);
  EXPECT_THROW(infer("FusedConv", a,
                     {f32({sym("N"), 224, 224, 3}), f32({64, 7, 7, 3}), std::nullopt,
                      f32({sym("N"), 64, 110, 110})}),
               Error);
}

TEST(PoolInference, ChannelsLastKeepsChannelsLast) {
  Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("channels_last", int64_t{1});
  TensorType y = infer("MaxPool", a, {f32({sym("N"), 112, 112, 64})});
  EXPECT_EQ((*y.shape)[0], sym("N"));
  EXPECT_EQ((*y.shape)[1].value, 56);
  EXPECT_EQ((*y.shape)[3].value, 64);
  Attributes g;
  g.set("channels_last", int64_t{1});
  TensorType p = infer("GlobalAveragePool", g, {f32({sym("N"), 7, 7, 2048})});
  EXPECT_EQ((*p.shape)[1].value, 1);
  EXPECT_EQ((*p.shape)[2].value, 1);
  EXPECT_EQ((*p.shape)[3].value, 2048);
}

TEST(ConvInference, SameUpperIsCeilOfInputOverStride) {
  Attributes a;
  a.set("strides", std::vector<int64_t>{2});
  a.set("auto_pad", std::string("SAME_UPPER"));
  // C=4 against a weight taking 2 channels per group needs group=2.
  EXPECT_THROW(infer("Conv", a, {f32({1, 4, 7}), f32({8, 2, 3})}), Error);
  a.set("group", int64_t{2});
  TensorType y = infer("Conv", a, {f32({1, 4, 7}), f32({8, 2, 3})});
  EXPECT_EQ((*y.shape)[2].value, 4);
}

TEST(ConvInference, ChannelMismatchFailsNamingTheNode) {
  try {
    infer("Conv", {}, {f32({1, 3, 5, 5}), f32({8, 2, 3, 3})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("node 'n' (Conv)"), std::string::npos) << e.what();
  }
}

TEST(ConvTransposeInference, OutputPaddingAndGroups) {
  Attributes a;
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("output_padding", std::vector<int64_t>{1, 0});
  a.set("group", int64_t{2});
  TensorType y = infer("ConvTranspose", a, {f32({sym("B"), 4, 5, 5}), f32({4, 3, 3, 3})});
  EXPECT_EQ(*y.shape, (SymShape{sym("B"), 6, 12, 11}));
}

TEST(PoolInference, CeilModeAndIndices) {
  Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{3, 3});
  a.set("strides", std::vector<int64_t>{2, 2});
  a.set("ceil_mode", int64_t{1});
  TensorType y = infer("MaxPool", a, {f32({sym("N"), 16, 8, 8})}, 2, 0);
  EXPECT_EQ(*y.shape, (SymShape{sym("N"), 16, 4, 4}));
  TensorType idx = infer("MaxPool", a, {f32({sym("N"), 16, 8, 8})}, 2, 1);
  EXPECT_EQ(idx.dtype, DataType::kInt64);
  EXPECT_EQ(*infer("GlobalAveragePool", {}, {f32({sym("N"), 16, Dim(), 8})}).shape,
            (SymShape{sym("N"), 16, 1, 1}));
}

TEST(MatMulInference, BroadcastsSymbolicBatch) {
  TensorType y = infer("MatMul", {}, {f32({sym("B"), 1, sym("S"), 64}), f32({8, 64, 32})});
  EXPECT_EQ(*y.shape, (SymShape{sym("B"), 8, sym("S"), 32}));
  EXPECT_EQ(*infer("MatMul", {}, {f32({64}), f32({sym("B"), 64, 3})}).shape,
            (SymShape{sym("B"), 3}));
  EXPECT_EQ(*infer("MatMul", {}, {f32({sym("M"), 64}), f32({64})}).shape, (SymShape{sym("M")}));
}

TEST(MatMulInference, InnerMismatchFails) {
  EXPECT_THROW(infer("MatMul", {}, {f32({2, 3}), f32({4, 5})}), Error);
}

TEST(GemmInference, TransposesAndCBroadcast) {
  Attributes a;
  a.set("transA", int64_t{1});
  TensorType y = infer("Gemm", a, {f32({64, sym("M")}), f32({64, 10}), f32({10})});
  EXPECT_EQ(*y.shape, (SymShape{sym("M"), 10}));
  EXPECT_THROW(infer("Gemm", a, {f32({64, 5}), f32({64, 10}), f32({3})}), Error);
}

TEST(EinsumInference, LabelsAndEllipsis) {
  Attributes a;
  a.set("equation", std::string("...ij,...jk->...ik"));
  TensorType y = infer("Einsum", a, {f32({sym("B"), 2, 3}), f32({1, 3, 4})});
  EXPECT_EQ(*y.shape, (SymShape{sym("B"), 2, 4}));
  a.set("equation", std::string("ij,jk"));
  EXPECT_EQ(*infer("Einsum", a, {f32({2, 3}), f32({3, 4})}).shape, (SymShape{2, 4}));
  EXPECT_THROW(infer("Einsum", a, {f32({2, 3}), f32({5, 4})}), Error);
}

TEST(NormalizationInference, LayerNormStatisticsShape) {
  Attributes a;
  a.set("axis", int64_t{-2});
  TensorType mean = infer("LayerNormalization", a, {f32({sym("B"), 5, 6}), f32({5, 6})}, 3, 1);
  EXPECT_EQ(*mean.shape, (SymShape{sym("B"), 1, 1}));
}

}  // namespace
}  // namespace kiln::ir
