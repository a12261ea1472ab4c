// Shape inference of the extra family on symbolic shapes: Attention's outputs in both layouts
// with a KV cache, RotaryEmbedding's cache checks, the image ops' computed sizes, and the
// data-dependent dims Unique and Compress leave unknown; bad inputs fail naming the node.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::ir {
namespace {

Dim sym(const std::string& s) {
  return Dim::symbolic(s);
}

std::vector<std::optional<TensorType>> infer_all(const std::string& op, const Attributes& attrs,
                                                 std::vector<std::optional<TensorType>> inputs,
                                                 size_t outputs = 1) {
  Graph g;
  std::vector<Value*> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i)
    ins.push_back(inputs[i] ? g.add_value("in" + std::to_string(i)) : nullptr);
  for (size_t i = 0; i < outputs; ++i) outs.push_back(g.add_value("out" + std::to_string(i)));
  Node* n = g.add_node(op, "n", ins, outs);
  n->attrs = attrs;
  return infer_node(*n, std::move(inputs));
}

TensorType f32(SymShape s) {
  return TensorType{DataType::kFloat32, std::move(s), nullptr};
}

TEST(AttentionInference, FourDWithCacheKeepsSymbolsAndAddsLengths) {
  auto out = infer_all(
      "Attention", {},
      {f32({sym("B"), 8, sym("S"), 64}), f32({sym("B"), 2, 1, 64}), f32({sym("B"), 2, 1, 32}),
       std::nullopt, f32({sym("B"), 2, 10, 64}), f32({sym("B"), 2, 10, 32})},
      4);
  EXPECT_EQ(*out[0]->shape, (SymShape{sym("B"), 8, sym("S"), 32}));
  EXPECT_EQ(*out[1]->shape, (SymShape{sym("B"), 2, 11, 64}));
  EXPECT_EQ(*out[2]->shape, (SymShape{sym("B"), 2, 11, 32}));
  EXPECT_EQ(*out[3]->shape, (SymShape{sym("B"), 8, sym("S"), 11}));
}

TEST(AttentionInference, ThreeDNeedsHeadCountsThatDivide) {
  Attributes a;
  a.set("q_num_heads", int64_t{4});
  a.set("kv_num_heads", int64_t{2});
  auto out = infer_all("Attention", a, {f32({2, 5, 32}), f32({2, 7, 16}), f32({2, 7, 24})});
  EXPECT_EQ(*out[0]->shape, (SymShape{2, 5, 48}));  // 4 heads of V's head size 12
  EXPECT_THROW(infer_all("Attention", {}, {f32({2, 5, 32}), f32({2, 7, 16}), f32({2, 7, 16})}),
               Error);
  a.set("kv_num_heads", int64_t{3});
  EXPECT_THROW(infer_all("Attention", a, {f32({2, 5, 32}), f32({2, 7, 24}), f32({2, 7, 24})}),
               Error);
}

TEST(AttentionInference, PastWithoutPresentPairOrNonpadWithPastFails) {
  EXPECT_THROW(infer_all("Attention", {},
                         {f32({1, 2, 3, 4}), f32({1, 2, 3, 4}), f32({1, 2, 3, 4}), std::nullopt,
                          f32({1, 2, 1, 4}), std::nullopt}),
               Error);
  TensorType lens{DataType::kInt64, SymShape{1}, nullptr};
  EXPECT_THROW(infer_all("Attention", {},
                         {f32({1, 2, 3, 4}), f32({1, 2, 3, 4}), f32({1, 2, 3, 4}), std::nullopt,
                          f32({1, 2, 1, 4}), f32({1, 2, 1, 4}), lens}),
               Error);
}

TEST(RotaryEmbeddingInference, CacheWidthMustBeHalfTheRotaryDim) {
  TensorType pos{DataType::kInt64, SymShape{1, 3}, nullptr};
  auto out = infer_all("RotaryEmbedding", {}, {f32({1, 2, 3, 8}), f32({16, 4}), f32({16, 4}), pos});
  EXPECT_EQ(*out[0]->shape, (SymShape{1, 2, 3, 8}));
  EXPECT_THROW(
      infer_all("RotaryEmbedding", {}, {f32({1, 2, 3, 8}), f32({16, 3}), f32({16, 3}), pos}),
      Error);
  // 3-D input without num_heads cannot be split into heads.
  EXPECT_THROW(infer_all("RotaryEmbedding", {}, {f32({1, 3, 8}), f32({1, 3, 4}), f32({1, 3, 4})}),
               Error);
}

TEST(ImageInference, RoiAlignGridSampleAndMaxUnpoolSizes) {
  Attributes a;
  a.set("output_height", int64_t{7});
  a.set("output_width", int64_t{5});
  TensorType idx{DataType::kInt64, SymShape{sym("R")}, nullptr};
  auto roi = infer_all("RoiAlign", a, {f32({2, 256, 50, 50}), f32({sym("R"), 4}), idx});
  EXPECT_EQ(*roi[0]->shape, (SymShape{sym("R"), 256, 7, 5}));
  auto gs = infer_all("GridSample", {}, {f32({sym("N"), 3, 10, 10}), f32({sym("N"), 4, 6, 2})});
  EXPECT_EQ(*gs[0]->shape, (SymShape{sym("N"), 3, 4, 6}));
  EXPECT_THROW(infer_all("GridSample", {}, {f32({1, 3, 10, 10}), f32({1, 4, 6, 3})}), Error);
  // A grid of too low a rank, with X's rank unknown: refused, not read before its first dim.
  std::optional<TensorType> unranked = TensorType{DataType::kFloat32, std::nullopt, nullptr};
  for (SymShape grid : {SymShape{}, SymShape{2}, SymShape{1, 2}}) {
    EXPECT_THROW(infer_all("GridSample", {}, {unranked, f32(grid)}), Error);
  }
  Attributes p;
  p.set("kernel_shape", std::vector<int64_t>{2, 2});
  p.set("strides", std::vector<int64_t>{2, 2});
  TensorType ind{DataType::kInt64, SymShape{1, 3, 4, 4}, nullptr};
  auto up = infer_all("MaxUnpool", p, {f32({1, 3, 4, 4}), ind});
  EXPECT_EQ(*up[0]->shape, (SymShape{1, 3, 8, 8}));
}

TEST(SelectionInference, DataDependentDimsStayUnknown) {
  Attributes a;
  a.set("axis", int64_t{1});
  auto u = infer_all("Unique", a, {f32({2, 6, 3})}, 4);
  ASSERT_EQ(u[0]->shape->size(), 3u);
  EXPECT_FALSE((*u[0]->shape)[1].known());
  EXPECT_EQ((*u[2]->shape)[0].value, 6);  // inverse_indices: one per input slice
  TensorType cond{DataType::kBool, SymShape{6}, nullptr};
  auto c = infer_all("Compress", a, {f32({2, 6, 3}), cond});
  EXPECT_EQ((*c[0]->shape)[0].value, 2);
  EXPECT_FALSE((*c[0]->shape)[1].known());
  TensorType not_bool{DataType::kInt64, SymShape{6}, nullptr};
  EXPECT_THROW(infer_all("Compress", a, {f32({2, 6, 3}), not_bool}), Error);
}

}  // namespace
}  // namespace kiln::ir
