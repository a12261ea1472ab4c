// fuse_rearrange_chains: chains of Cast, Reshape, Transpose and a trailing zero Pad with two or
// more copying layers become one Rearrange with bit-identical results (CPU before and after): an
// image's FP32 NCHW -> FP16 NHWC, the same with a stem's space-to-depth and channel padding; a
// single copy, two Casts, a chain read elsewhere midway and non-zero pads stay.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::attrs;
using test::ops;
using test::PassGraphBuilder;

Value* cast(PassGraphBuilder& b, Value* x, const char* to) {
  return b.op("Cast", {x}, attrs({{"to", std::string(to)}}));
}

Value* transpose(PassGraphBuilder& b, Value* x, std::vector<int64_t> perm) {
  return b.op("Transpose", {x}, attrs({{"perm", std::move(perm)}}));
}

Value* reshape(PassGraphBuilder& b, Value* x, std::vector<int64_t> shape) {
  return b.op("Reshape", {x, b.ints(shape)});
}

Value* pad_last(PassGraphBuilder& b, Value* x, size_t rank, int64_t n) {
  std::vector<int64_t> pads(2 * rank, 0);
  pads.back() = n;
  return b.op("Pad", {x, b.ints(pads)});
}

const ir::Node& only_rearrange(const ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (n->op == "Rearrange") return *n;
  }
  throw std::runtime_error("no Rearrange");
}

TEST(FuseRearrangeChains, ImageToHalfNhwcIsOneCopy) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3, 5, 7});
  b.output(b.op("Relu", {transpose(b, cast(b, x, "float16"), {0, 2, 3, 1})}));
  auto after = test::apply_and_compare(b.graph(), fuse_rearrange_chains, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Rearrange", "Relu"}));
  const ir::Node& r = only_rearrange(*after);
  EXPECT_EQ(r.outputs[0]->dtype, DataType::kFloat16);
  EXPECT_EQ(r.attrs.get_ints("sizes"), (std::vector<int64_t>{2, 35, 3}));
  EXPECT_EQ(r.attrs.get_ints("strides"), (std::vector<int64_t>{105, 1, 35}));
}

TEST(FuseRearrangeChains, SpaceToDepthStemWithChannelPaddingIsOneCopy) {
  PassGraphBuilder b;
  Value* x = b.input("x", {2, 3, 8, 6});
  Value* h = cast(b, x, "float16");
  Value* blocks = reshape(b, h, {2, 3, 4, 2, 3, 2});
  Value* moved = transpose(b, blocks, {0, 2, 4, 3, 5, 1});
  Value* merged = reshape(b, moved, {2, 4, 3, 12});
  b.output(b.op("Relu", {pad_last(b, merged, 4, 4)}));
  auto after = test::apply_and_compare(b.graph(), fuse_rearrange_chains, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Rearrange", "Relu"}));
  const ir::Node& r = only_rearrange(*after);
  EXPECT_EQ(r.attrs.get_int("pad"), 4);
  EXPECT_EQ(r.attrs.get_ints("shape"), (std::vector<int64_t>{2, 4, 3, 16}));
}

TEST(FuseRearrangeChains, TransposePairsAndFlattensKeepTheirResults) {
  PassGraphBuilder b;
  Value* x = b.input("x", {4, 6, 10});
  Value* t = transpose(b, x, {2, 0, 1});  // [10, 4, 6]
  Value* r = reshape(b, t, {5, 2, 24});   // splits 10, merges 4 x 6
  Value* u = transpose(b, r, {1, 2, 0});  // [2, 24, 5]
  b.output(b.op("Relu", {cast(b, u, "bfloat16")}));
  auto after = test::apply_and_compare(b.graph(), fuse_rearrange_chains, 0);
  EXPECT_EQ(ops(*after), (std::vector<std::string>{"Rearrange", "Relu"}));
}

TEST(FuseRearrangeChains, LeavesChainsThatWouldNotGain) {
  {  // one copy
    PassGraphBuilder b;
    Value* x = b.input("x", {2, 3, 4});
    b.output(transpose(b, reshape(b, x, {6, 4}), {1, 0}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(fuse_rearrange_chains(b.graph()));
  }
  {  // two Casts: rounding to FP16 midway is part of the result
    PassGraphBuilder b;
    Value* x = b.input("x", {2, 3});
    b.output(cast(b, transpose(b, cast(b, x, "float16"), {1, 0}), "float32"));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(fuse_rearrange_chains(b.graph()));
  }
  {  // the Cast's output is read elsewhere too, so each part holds one copy
    PassGraphBuilder b;
    Value* x = b.input("x", {2, 3});
    Value* h = cast(b, x, "float16");
    b.output(transpose(b, h, {1, 0}));
    b.output(b.op("Relu", {h}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(fuse_rearrange_chains(b.graph()));
  }
  {  // a Pad before the last axis
    PassGraphBuilder b;
    Value* x = b.input("x", {2, 3});
    b.output(b.op("Pad", {cast(b, x, "float16"), b.ints({1, 0, 0, 0})}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(fuse_rearrange_chains(b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
