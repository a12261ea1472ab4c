// recognize_attention on the MatMul/scale/mask/Softmax/MatMul chain with head-split
// Reshape/Transpose around it, in the forms PyTorch's TorchScript and dynamo exporters write: one
// ScaledDotProductAttention whose results stay within float rounding of the unfused graph.
#include <gtest/gtest.h>

#include <cmath>

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

const ir::Node* find_sdpa(const ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (n->op == "ScaledDotProductAttention") return n.get();
  }
  return nullptr;
}

// The decomposition of F.scaled_dot_product_attention in PyTorch's exports (static shapes, as
// the exporters write them): Q * sqrt(s) and K^T * sqrt(s), K^T as Reshape -> Transpose(0,2,1) ->
// Reshape (dynamo) or Transpose(0,2,3,1) of the head split (TorchScript), a boolean mask turned
// additive by Where(mask, 0, -inf), and the Where(IsNaN(P), 0, P) guard.
struct ExportOptions {
  bool dynamo_k = true;          // K^T through Reshape/Transpose/Reshape, else Transpose(0,2,3,1)
  bool nan_guard = true;         // Where(IsNaN(P), 0, P) before the second MatMul
  bool guard_value_one = false;  // the guard writes 1, not 0: not the SDPA guard
  bool guard_swapped = false;    // Where(IsNaN(P), P, 0): keeps only the NaNs
  bool split_k = false;          // the first Reshape regroups K's last two axes too
  bool mask = true;
  bool masked_row = true;  // query row 1 of every head has every key masked
};

// q, k, v [2, 5, 16], 4 heads of 4; scale 0.5 split as sqrt(0.5) on each side.
void build_export(PassGraphBuilder& b, const ExportOptions& o) {
  Value* q = b.input("q", {2, 5, 16});
  Value* k = b.input("k", {2, 5, 16});
  Value* v = b.input("v", {2, 5, 16});
  const float root = std::sqrt(0.5f);
  Value* qh = b.op("Mul", {heads(b, q, {0, 2, 1, 3}), b.scalar(root)});
  Value* kt = nullptr;
  if (o.dynamo_k) {
    Value* kh = heads(b, k, {0, 2, 1, 3});  // [2, 4, 5, 4]
    Value* flat = b.op("Reshape", {kh, b.ints(o.split_k ? std::vector<int64_t>{8, 10, 2}
                                                        : std::vector<int64_t>{8, 5, 4})});
    Value* t = b.op("Transpose", {flat}, attrs({{"perm", std::vector<int64_t>{0, 2, 1}}}));
    kt = b.op("Reshape", {t, b.ints({2, 4, 4, 5})});
  } else {
    kt = heads(b, k, {0, 2, 3, 1});
  }
  kt = b.op("Mul", {kt, b.scalar(root)});
  Value* s = b.op("MatMul", {qh, kt});
  if (o.mask) {
    std::vector<uint8_t> keep(25, 1);
    for (size_t j = 0; j < 5; ++j) keep[5 + j] = o.masked_row ? 0 : 1;
    keep[3] = 0;  // row 0 loses one key
    Value* mask_bool = b.graph().add_constant(
        "mask_bool", Tensor::from_vector(DataType::kBool, {1, 1, 5, 5}, keep));
    Value* mask = b.op("Where", {mask_bool, b.scalar(0.0f), b.scalar(-INFINITY)});
    s = b.op("Add", {s, mask});
  }
  Value* p = b.op("Softmax", {s}, attrs({{"axis", int64_t{-1}}}));
  if (o.nan_guard) {
    Value* isnan = b.op("IsNaN", {p});
    Value* fill = b.scalar(o.guard_value_one ? 1.0f : 0.0f);
    p = o.guard_swapped ? b.op("Where", {isnan, p, fill}) : b.op("Where", {isnan, fill, p});
  }
  Value* ctx = b.op("Transpose", {b.op("MatMul", {p, heads(b, v, {0, 2, 1, 3})})},
                    attrs({{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
  b.output(b.op("Reshape", {ctx, b.ints({0, 0, 16})}));
}

TEST(RecognizeAttention, FusesPyTorchExportsWithSplitScaleAndNanGuard) {
  std::vector<ExportOptions> variants(4);
  variants[1].dynamo_k = false;  // TorchScript export
  variants[2].mask = false;
  variants[3].nan_guard = false;
  variants[3].masked_row = false;  // without the guard a fully-masked row is NaN in both graphs
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE(i);
    const ExportOptions& o = variants[i];
    PassGraphBuilder b;
    build_export(b, o);
    // With the guard, the fully-masked row must come out as 0 in both graphs (NaN fails).
    auto after = test::apply_and_compare(b.graph(), recognize_attention, 1e-5);
    EXPECT_EQ(count(*after, "ScaledDotProductAttention"), 1u);
    for (const char* gone : {"Softmax", "MatMul", "IsNaN", "Mul"})
      EXPECT_EQ(count(*after, gone), 0u) << gone;
    EXPECT_EQ(count(*after, "Where"), o.mask ? 1u : 0u);  // the mask's Where stays
    const ir::Node* sdpa = find_sdpa(*after);
    ASSERT_NE(sdpa, nullptr);
    EXPECT_NEAR(sdpa->attrs.get_float("scale"), 0.5f, 1e-6);
    EXPECT_EQ(sdpa->inputs.size(), o.mask ? 4u : 3u);
    EXPECT_EQ(sdpa->attrs.get_int("zero_nan_rows", 0), o.nan_guard ? 1 : 0);
    // dynamo's Reshape/Transpose/Reshape is absorbed; TorchScript's K is read as [D, S].
    EXPECT_EQ(sdpa->attrs.get_int("k_transposed"), o.dynamo_k ? 0 : 1);
    EXPECT_EQ(count(*after, "Transpose"), 4u);
    EXPECT_EQ(count(*after, "Reshape"), 4u);
  }
}

TEST(RecognizeAttention, KeepsTheKeyReshapeWhenItRegroupsTheLastAxes) {
  ExportOptions o;
  o.split_k = true;  // [2,4,5,4] -> [8,10,2]: the transposed matrices are not K's
  PassGraphBuilder b;
  build_export(b, o);
  auto after = test::apply_and_compare(b.graph(), recognize_attention, 1e-5);
  const ir::Node* sdpa = find_sdpa(*after);
  ASSERT_NE(sdpa, nullptr);
  EXPECT_EQ(sdpa->attrs.get_int("k_transposed"), 1);
  EXPECT_EQ(count(*after, "Transpose"), 5u);
}

TEST(RecognizeAttention, LeavesGuardsThatAreNotTheSdpaGuardAlone) {
  for (int variant = 0; variant < 2; ++variant) {
    SCOPED_TRACE(variant);
    ExportOptions o;
    o.guard_value_one = variant == 0;
    o.guard_swapped = variant == 1;
    PassGraphBuilder b;
    build_export(b, o);
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_attention(b.graph()));
    EXPECT_EQ(count(b.graph(), "Softmax"), 1u);
  }
}

TEST(RecognizeAttention, KeepsScaleMulsThatAreNotScalarOrAreShared) {
  for (int variant = 0; variant < 2; ++variant) {
    SCOPED_TRACE(variant);
    PassGraphBuilder b;
    Value* q = b.input("q", {2, 3, 4});
    Value* k = b.input("k", {2, 3, 4});
    Value* v = b.input("v", {2, 3, 4});
    // A per-channel Mul is not a scale; a scalar Mul whose result is read elsewhere must stay.
    Value* qs = variant == 0 ? b.op("Mul", {q, b.constant({4}, {0.5f, 1.0f, 2.0f, 0.25f})})
                             : b.op("Mul", {q, b.scalar(0.5f)});
    Value* kt = b.op("Transpose", {k}, attrs({{"perm", std::vector<int64_t>{0, 2, 1}}}));
    Value* p = b.op("Softmax", {b.op("MatMul", {qs, kt})}, attrs({{"axis", int64_t{-1}}}));
    b.output(b.op("MatMul", {p, v}));
    if (variant == 1) b.output(qs);
    auto after = test::apply_and_compare(b.graph(), recognize_attention, 1e-5);
    const ir::Node* sdpa = find_sdpa(*after);
    ASSERT_NE(sdpa, nullptr);
    EXPECT_FLOAT_EQ(sdpa->attrs.get_float("scale"), 1.0f);
    EXPECT_EQ(count(*after, "Mul"), 1u);
    EXPECT_EQ(sdpa->inputs[0]->name, qs->name);
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
