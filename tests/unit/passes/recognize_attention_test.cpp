// recognize_attention on the MatMul/scale/mask/Softmax/MatMul chain with head-split
// Reshape/Transpose around it: one ScaledDotProductAttention whose results stay within float
// rounding of the unfused graph.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Dim;
using ir::Value;
using test::attrs;
using test::ops;
using test::PassGraphBuilder;

size_t count(const ir::Graph& g, const std::string& op) {
  size_t n = 0;
  for (const auto& node : g.nodes()) n += node->op == op;
  return n;
}

struct Options {
  bool div = false;  // scores / sqrt(d) instead of * (1/sqrt(d))
  bool mask = true;
  bool mask_first = false;  // Add(mask, scores)
  bool k_transpose = true;  // K^T via Transpose(perm swap last two) rather than given as [D, S]
};

// x [batch, seq, 16] split into 4 heads of 4.
Value* heads(PassGraphBuilder& b, Value* x, std::vector<int64_t> perm) {
  return b.op("Transpose", {b.op("Reshape", {x, b.ints({0, 0, 4, 4})})}, attrs({{"perm", perm}}));
}

void build(PassGraphBuilder& b, const Options& o) {
  Value* q = b.input("q", {Dim::symbolic("batch"), Dim::symbolic("seq"), 16});
  Value* k = b.input("k", {Dim::symbolic("batch"), Dim::symbolic("seq"), 16});
  Value* v = b.input("v", {Dim::symbolic("batch"), Dim::symbolic("seq"), 16});
  Value* mask =
      o.mask ? b.input("mask", {Dim::symbolic("batch"), 1, 1, Dim::symbolic("seq")}) : nullptr;
  Value* qh = heads(b, q, {0, 2, 1, 3});
  Value* kt = o.k_transpose ? b.op("Transpose", {heads(b, k, {0, 2, 1, 3})},
                                   attrs({{"perm", std::vector<int64_t>{0, 1, 3, 2}}}))
                            : heads(b, k, {0, 2, 3, 1});
  Value* vh = heads(b, v, {0, 2, 1, 3});
  Value* s = b.op("MatMul", {qh, kt});
  s = o.div ? b.op("Div", {s, b.scalar(2.0f)}) : b.op("Mul", {b.scalar(0.5f), s});
  if (o.mask) s = o.mask_first ? b.op("Add", {mask, s}) : b.op("Add", {s, mask});
  Value* p = b.op("Softmax", {s}, attrs({{"axis", int64_t{-1}}}));
  Value* ctx = b.op("Transpose", {b.op("MatMul", {p, vh})},
                    attrs({{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
  b.output(b.op("Reshape", {ctx, b.ints({0, 0, 16})}));
}

TEST(RecognizeAttention, FusesScaledMaskedSoftmaxAttention) {
  std::vector<Options> variants(5);
  variants[1].div = true;
  variants[2].mask = false;
  variants[3].mask_first = true;
  variants[4].k_transpose = false;
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE(i);
    PassGraphBuilder b;
    build(b, variants[i]);
    auto after =
        test::apply_and_compare(b.graph(), recognize_attention, 1e-5, {{"batch", 2}, {"seq", 5}});
    EXPECT_EQ(count(*after, "ScaledDotProductAttention"), 1u);
    EXPECT_EQ(count(*after, "Softmax"), 0u);
    EXPECT_EQ(count(*after, "MatMul"), 0u);
    const ir::Node* sdpa = nullptr;
    for (const auto& n : after->nodes()) {
      if (n->op == "ScaledDotProductAttention") sdpa = n.get();
    }
    ASSERT_NE(sdpa, nullptr);
    EXPECT_FLOAT_EQ(sdpa->attrs.get_float("scale"), 0.5f);
    EXPECT_EQ(sdpa->inputs.size(), variants[i].mask ? 4u : 3u);
    // The K^T Transpose is absorbed; a K given as [D, S] is read transposed.
    EXPECT_EQ(sdpa->attrs.get_int("k_transposed"), variants[i].k_transpose ? 0 : 1);
    EXPECT_EQ(count(*after, "Transpose"), 4u);
  }
}

TEST(RecognizeAttention, LeavesSoftmaxOverOtherAxesAndSharedScoresAlone) {
  {
    PassGraphBuilder b;
    Value* q = b.input("q", {2, 3, 4});
    Value* k = b.input("k", {2, 4, 3});
    Value* v = b.input("v", {2, 3, 4});
    Value* p = b.op("Softmax", {b.op("MatMul", {q, k})}, attrs({{"axis", int64_t{1}}}));
    b.output(b.op("MatMul", {p, v}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_attention(b.graph()));
  }
  {
    PassGraphBuilder b;
    Value* q = b.input("q", {2, 3, 4});
    Value* k = b.input("k", {2, 4, 3});
    Value* v = b.input("v", {2, 3, 4});
    Value* p = b.op("Softmax", {b.op("MatMul", {q, k})}, attrs({{"axis", int64_t{-1}}}));
    b.output(b.op("MatMul", {p, v}));
    b.output(p);  // the attention probabilities are an output too
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_attention(b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
