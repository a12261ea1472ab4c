// merge_attention_projections: separate Q, K and V projections of one input (MatMul, or
// FusedMatMul with a bias row) become one product sliced by views, with the same results; then
// absorb_attention_transposes reads the slices in place. Projections that differ (another input,
// an activation, other readers) stay separate.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

bool merge_then_absorb(ir::Graph& g) {
  bool merged = merge_attention_projections(g);
  return absorb_attention_transposes(g) && merged;
}

std::vector<float> ramp(size_t n, float scale, int salt) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 7 + salt) % 19) - 0.3f;
  return v;
}

ir::Attributes attrs_of(std::initializer_list<std::pair<const char*, ir::AttrValue>> list) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

// x [2, 5, 12] -> three projections -> heads [2, 5, 3, 4] -> Transpose -> attention.
struct Block {
  PassGraphBuilder b;
  Value* x;
  Value* projection(int salt, bool bias, const char* op = "FusedMatMul", Value* input = nullptr) {
    std::vector<Value*> in = {input ? input : x, b.constant({12, 12}, ramp(144, 0.02f, salt))};
    if (bias) in.push_back(b.constant({12}, ramp(12, 0.05f, salt + 1)));
    return b.op(op, in);
  }
  Value* heads(Value* p) {
    return b.op("Transpose", {b.op("Reshape", {p, b.ints({2, 5, 3, 4})})},
                attrs_of({{"perm", std::vector<int64_t>{0, 2, 1, 3}}}));
  }
  void attend(Value* q, Value* k, Value* v) {
    b.output(b.op("ScaledDotProductAttention", {heads(q), heads(k), heads(v)},
                  attrs_of({{"scale", 0.5f}})));
  }
  Block() { x = b.op("Relu", {b.input("x", {2, 5, 12})}); }
};

TEST(MergeAttentionProjections, ThreeProjectionsOfOneInputBecomeOne) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias);
    Block blk;
    const char* op = bias ? "FusedMatMul" : "MatMul";
    blk.attend(blk.projection(1, bias, op), blk.projection(2, bias, op),
               blk.projection(3, bias, op));
    auto after = test::apply_and_compare(blk.b.graph(), merge_then_absorb, 1e-6);
    EXPECT_EQ(ops(*after), (std::vector<std::string>{"Relu", op, "ScaledDotProductAttention"}));
  }
}

TEST(MergeAttentionProjections, LeavesProjectionsThatDiffer) {
  {
    Block blk;  // K reads another input
    Value* other = blk.b.op("Sigmoid", {blk.x});
    blk.attend(blk.projection(1, true), blk.projection(2, true, "FusedMatMul", other),
               blk.projection(3, true));
    ir::infer_graph(blk.b.graph());
    EXPECT_FALSE(merge_attention_projections(blk.b.graph()));
  }
  {
    Block blk;  // V's projection is also read by another layer
    Value* v = blk.projection(3, true);
    blk.attend(blk.projection(1, true), blk.projection(2, true), v);
    blk.b.output(blk.b.op("Relu", {v}));
    ir::infer_graph(blk.b.graph());
    EXPECT_FALSE(merge_attention_projections(blk.b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
