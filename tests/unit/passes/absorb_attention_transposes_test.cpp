// absorb_attention_transposes: the head-split Transposes in front of ScaledDotProductAttention and
// the head-merge Transpose after it become q/k/v/y_perm, in BERT's layout (Reshape, Transpose
// (0,2,1,3)) and in PyTorch's MHA export (sequence first; Transpose (1,0,2), then a Reshape that
// splits batch and heads, hoisted in front of the Transpose); the CPU kernel reads the strides, so
// outputs stay bit-identical. Transposes that move the head dim or feed other layers stay.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

bool absorb_all(ir::Graph& g) {
  return absorb_attention_transposes(g);
}

ir::Attributes perm(std::vector<int64_t> p) {
  ir::Attributes a;
  a.set("perm", p);
  return a;
}

ir::Attributes sdpa_attrs(float scale, bool k_transposed = false) {
  ir::Attributes a;
  a.set("scale", scale);
  a.set("k_transposed", int64_t{k_transposed ? 1 : 0});
  return a;
}

const ir::Node* find(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes()) {
    if (n->op == op) return n.get();
  }
  return nullptr;
}

TEST(AbsorbAttentionTransposes, BertHeadSplitAndMergeBecomePerms) {
  for (bool k_transposed : {false, true}) {
    SCOPED_TRACE(k_transposed);
    PassGraphBuilder b;
    // [B, S, H*D] projections, split into heads: [B, S, H, D] -> [B, H, S, D].
    auto heads = [&](const char* name, std::vector<int64_t> p) {
      Value* x = b.input(name, {2, 5, 12});
      return b.op("Transpose", {b.op("Reshape", {x, b.ints({2, 5, 3, 4})})}, perm(p));
    };
    Value* q = heads("q", {0, 2, 1, 3});
    Value* k = heads(
        "k", k_transposed ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
    Value* v = heads("v", {0, 2, 1, 3});
    Value* mask = b.input("mask", {2, 1, 1, 5});
    Value* y = b.op("ScaledDotProductAttention", {q, k, v, mask}, sdpa_attrs(0.5f, k_transposed));
    Value* merged = b.op("Transpose", {y}, perm({0, 2, 1, 3}));
    b.output(b.op("Reshape", {merged, b.ints({2, 5, 12})}));
    auto after = test::apply_and_compare(b.graph(), absorb_all, 0);
    EXPECT_EQ(ops(*after), (std::vector<std::string>{"Reshape", "Reshape", "Reshape",
                                                     "ScaledDotProductAttention", "Reshape"}));
    const ir::Node* sdpa = find(*after, "ScaledDotProductAttention");
    EXPECT_EQ(sdpa->attrs.get_ints("q_perm"), (std::vector<int64_t>{0, 2, 1, 3}));
    EXPECT_EQ(sdpa->attrs.get_ints("k_perm"),
              (k_transposed ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3}));
    EXPECT_EQ(sdpa->attrs.get_ints("y_perm"), (std::vector<int64_t>{0, 2, 1, 3}));
  }
}

TEST(AbsorbAttentionTransposes, SequenceFirstExportHoistsTheHeadSplitReshape) {
  PassGraphBuilder b;
  // PyTorch's MHA export: q [S, B, H*D] -> [S, B*H, D] -> Transpose(1,0,2) -> [B*H, S, D]
  // -> Reshape [B, H, S, D]; the output goes back through Transpose(1,0,2) to [S, B*H, D].
  auto heads = [&](const char* name) {
    Value* x = b.input(name, {7, 2, 12});
    Value* t = b.op("Transpose", {b.op("Reshape", {x, b.ints({7, 6, 4})})}, perm({1, 0, 2}));
    return b.op("Reshape", {t, b.ints({2, 3, 7, 4})});
  };
  Value* y =
      b.op("ScaledDotProductAttention", {heads("q"), heads("k"), heads("v")}, sdpa_attrs(0.5f));
  Value* flat = b.op("Reshape", {y, b.ints({6, 7, 4})});
  b.output(b.op("Transpose", {flat}, perm({1, 0, 2})));
  auto after = test::apply_and_compare(b.graph(), absorb_all, 0);
  size_t transposes = 0;
  for (const std::string& op : ops(*after)) transposes += op == "Transpose";
  EXPECT_EQ(transposes, 1u);  // the output one follows a Reshape: left alone
  const ir::Node* sdpa = find(*after, "ScaledDotProductAttention");
  // [7, 6, 4] split to [7, 2, 3, 4] and read as axes (1, 2, 0, 3).
  EXPECT_EQ(sdpa->attrs.get_ints("q_perm"), (std::vector<int64_t>{1, 2, 0, 3}));
  EXPECT_EQ(sdpa->inputs[0]->shape, ir::to_sym_shape({7, 2, 3, 4}));
}

TEST(AbsorbAttentionTransposes, LeavesTransposesThatMoveTheHeadOrFeedOthers) {
  PassGraphBuilder b;
  Value* q = b.op("Transpose", {b.input("q", {2, 4, 3, 5})}, perm({0, 2, 3, 1}));  // D moves
  Value* kv = b.op("Transpose", {b.input("k", {2, 5, 3, 4})}, perm({0, 2, 1, 3}));
  Value* y = b.op("ScaledDotProductAttention", {q, kv, kv}, sdpa_attrs(0.5f));  // shared by K, V
  b.output(y);
  b.output(kv);
  ir::infer_graph(b.graph());
  EXPECT_FALSE(absorb_all(b.graph()));
}

TEST(AbsorbAttentionTransposes, OnlyTheLayersAskedFor) {
  PassGraphBuilder b;
  Value* q = b.op("Transpose", {b.input("q", {2, 5, 3, 4})}, perm({0, 2, 1, 3}));
  Value* k = b.op("Transpose", {b.input("k", {2, 5, 3, 4})}, perm({0, 2, 1, 3}));
  Value* v = b.op("Transpose", {b.input("v", {2, 5, 3, 4})}, perm({0, 2, 1, 3}));
  b.output(b.op("ScaledDotProductAttention", {q, k, v}, sdpa_attrs(0.5f)));
  ir::infer_graph(b.graph());
  EXPECT_FALSE(absorb_attention_transposes(b.graph(), [](const ir::Node&) { return false; }));
  EXPECT_TRUE(absorb_attention_transposes(b.graph(), [](const ir::Node&) { return true; }));
}

TEST(AbsorbAttentionTransposes, OperandsSlicedFromOneProjectionBecomeViews) {
  // PyTorch's MHA export: one projection [S, B, 3E], Reshape [S, B, 3, E], Unsqueeze(0),
  // Transpose(3, 1, 2, 0, 4), Squeeze(3) -> [3, S, B, E], Gather(0, i) -> [S, B, E], then the
  // heads split as in SequenceFirstExportHoistsTheHeadSplitReshape.
  PassGraphBuilder b;
  Value* proj = b.op("Relu", {b.input("qkv", {7, 2, 36})});
  Value* split = b.op("Reshape", {proj, b.ints({7, 2, 3, 12})});
  Value* un = b.op("Unsqueeze", {split, b.ints({0})});
  Value* t = b.op("Transpose", {un}, perm({3, 1, 2, 0, 4}));
  Value* qkv = b.op("Squeeze", {t, b.ints({3})});
  auto heads = [&](int64_t i) {
    ir::Attributes axis0;
    axis0.set("axis", int64_t{0});
    Value* idx =
        b.graph().add_constant("index" + std::to_string(i),
                               Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{i}));
    Value* x = b.op("Gather", {qkv, idx}, axis0);
    Value* h = b.op("Transpose", {b.op("Reshape", {x, b.ints({7, 6, 4})})}, perm({1, 0, 2}));
    return b.op("Reshape", {h, b.ints({2, 3, 7, 4})});
  };
  Value* y = b.op("ScaledDotProductAttention", {heads(0), heads(1), heads(2)}, sdpa_attrs(0.5f));
  b.output(y);
  auto after = test::apply_and_compare(b.graph(), absorb_all, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Relu", "ScaledDotProductAttention"}));
  const ir::Node* sdpa = find(*after, "ScaledDotProductAttention");
  // K: offset E = 12; [2, 3, 7, 4] with strides (3E, 4, 2 * 3E, 1) in the [7, 2, 36] projection.
  EXPECT_EQ(sdpa->attrs.get_ints("k_view"), (std::vector<int64_t>{12, 2, 36, 3, 4, 7, 72, 4, 1}));
}

// The whole of PyTorch's MHA export around one attention: x [B, S, E] -> Transpose(1, 0, 2) ->
// input projection -> views slicing Q, K, V -> attention -> Transpose to [S, B, H, D] -> Reshape
// [S*B, E] -> output projection
// (Gemm, transB) -> Reshape [S, B, E] -> Transpose(1, 0, 2). Every Transpose and Gather goes.
TEST(AbsorbAttentionTransposes, SequenceFirstProjectionsLoseTheirTransposes) {
  const int64_t bsz = 2, seq = 5, heads = 3, dim = 4, e = heads * dim;
  PassGraphBuilder b;
  Value* x = b.op("Relu", {b.input("x", {bsz, seq, e})});
  Value* first = b.op("Transpose", {x}, perm({1, 0, 2}));
  std::vector<float> w_in(static_cast<size_t>(e * 3 * e)), w_out(static_cast<size_t>(e * e));
  for (size_t i = 0; i < w_in.size(); ++i) w_in[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;
  for (size_t i = 0; i < w_out.size(); ++i) w_out[i] = 0.02f * static_cast<float>(i % 13) - 0.1f;
  Value* proj = b.op("MatMul", {first, b.constant({e, 3 * e}, w_in)});
  Value* split = b.op("Reshape", {proj, b.ints({seq, bsz, 3, e})});
  Value* qkv =
      b.op("Squeeze",
           {b.op("Transpose", {b.op("Unsqueeze", {split, b.ints({0})})}, perm({3, 1, 2, 0, 4})),
            b.ints({3})});
  auto part = [&](int64_t i) {
    ir::Attributes axis0;
    axis0.set("axis", int64_t{0});
    Value* idx =
        b.graph().add_constant("part" + std::to_string(i),
                               Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{i}));
    Value* v = b.op("Gather", {qkv, idx}, axis0);
    Value* t =
        b.op("Transpose", {b.op("Reshape", {v, b.ints({seq, bsz * heads, dim})})}, perm({1, 0, 2}));
    return b.op("Reshape", {t, b.ints({bsz, heads, seq, dim})});
  };
  Value* y = b.op("ScaledDotProductAttention", {part(0), part(1), part(2)}, sdpa_attrs(0.5f));
  Value* tokens = b.op("Transpose", {y}, perm({2, 0, 1, 3}));  // [S, B, H, D]
  Value* rows = b.op("Reshape", {tokens, b.ints({seq * bsz, e})});
  ir::Attributes trans_b;
  trans_b.set("transB", int64_t{1});
  Value* out = b.op("Gemm", {rows, b.constant({e, e}, w_out)}, trans_b);
  b.output(b.op("Transpose", {b.op("Reshape", {out, b.ints({seq, bsz, e})})}, perm({1, 0, 2})));
  auto after = test::apply_and_compare(b.graph(), absorb_all, 1e-6);
  for (const std::string& op : ops(*after)) {
    EXPECT_NE(op, "Transpose");
    EXPECT_NE(op, "Gather");
  }
}

// A projection whose output another layer also reads keeps its input Transpose: moving it behind
// the product would copy the (wider) product instead.
TEST(AbsorbAttentionTransposes, ProjectionWithOtherReadersKeepsItsTranspose) {
  PassGraphBuilder b;
  Value* first = b.op("Transpose", {b.input("x", {2, 5, 4})}, perm({1, 0, 2}));
  std::vector<float> w(4 * 4, 0.1f);
  Value* proj = b.op("MatMul", {first, b.constant({4, 4}, w)});
  Value* heads = b.op("Reshape", {proj, b.ints({5, 2, 1, 4})});
  Value* q = b.op("Transpose", {heads}, perm({1, 2, 0, 3}));
  b.output(b.op("ScaledDotProductAttention", {q, q, q}, sdpa_attrs(0.5f)));
  b.output(b.op("Relu", {proj}));
  ir::infer_graph(b.graph());
  absorb_all(b.graph());
  size_t transposes = 0;
  for (const std::string& op : ops(b.graph())) transposes += op == "Transpose";
  EXPECT_EQ(transposes, 1u);  // the one in front of the projection
}

}  // namespace
}  // namespace kiln::passes
