// patchify_to_gemm: patch-embedding convolutions (stride = kernel, no padding) become a transpose
// and a Gemm with the same results (float rounding of a different summation order); other
// convolutions stay.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

Value* conv(PassGraphBuilder& b, Value* x, Shape w, std::vector<int64_t> strides,
            std::vector<int64_t> pads, int64_t group, bool bias) {
  std::vector<Value*> in = {
      x, b.constant(w, test::pattern_values(static_cast<size_t>(shape_numel(w)), 0.05f))};
  if (bias) in.push_back(b.constant({w[0]}, test::pattern_values(static_cast<size_t>(w[0]), 0.1f)));
  ir::Attributes a;
  a.set("strides", strides);
  a.set("pads", pads);
  a.set("group", group);
  return b.op("Conv", in, a);
}

TEST(PatchifyToGemm, PatchEmbeddingsBecomeAGemm) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias);
    PassGraphBuilder b;
    Value* x = b.input("x", {2, 3, 8, 12});
    b.output(b.op("Relu", {conv(b, x, {5, 3, 2, 4}, {2, 4}, {0, 0, 0, 0}, 1, bias)}));
    auto after = test::apply_and_compare(b.graph(), patchify_to_gemm, 1e-5);
    EXPECT_EQ(ops(*after), (std::vector<std::string>{"Reshape", "Transpose", "Reshape", "Gemm",
                                                     "Reshape", "Transpose", "Relu"}));
  }
}

TEST(PatchifyToGemm, LeavesOtherConvolutions) {
  struct Case {
    Shape w;
    std::vector<int64_t> strides, pads;
    int64_t group;
  };
  for (const Case& c : {Case{{4, 3, 2, 2}, {1, 1}, {0, 0, 0, 0}, 1},   // overlapping windows
                        Case{{4, 3, 2, 2}, {2, 2}, {1, 1, 1, 1}, 1},   // padded
                        Case{{6, 1, 2, 2}, {2, 2}, {0, 0, 0, 0}, 3},   // grouped
                        Case{{4, 3, 1, 1}, {1, 1}, {0, 0, 0, 0}, 1}})  // 1x1: a GEMM already
  {
    PassGraphBuilder b;
    Value* x = b.input("x", {1, 3, 8, 8});
    b.output(conv(b, x, c.w, c.strides, c.pads, c.group, true));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(patchify_to_gemm(b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
