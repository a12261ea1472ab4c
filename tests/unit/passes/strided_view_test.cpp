// view_chain: the strided view it computes for a chain of Reshape/Transpose/Squeeze/Unsqueeze/
// Gather layers must address exactly the elements the chain's layers produce, checked by running
// the chain on the CPU kernels and reading the source through the view, over fixed chains (the
// MHA export's) and 200 random ones. Chains with a step that is no view restart after it; a
// result that is not one stride per dim is refused.
#include "passes/strided_view.hpp"

#include <gtest/gtest.h>

#include <random>

#include "ir/op_registry.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::PassGraphBuilder;

ir::Attributes perm_attr(const std::vector<int64_t>& p) {
  ir::Attributes a;
  a.set("perm", p);
  return a;
}

// Runs the graph (its one output is the chain's end) and compares every element with the source
// read through the view.
void expect_view_matches(PassGraphBuilder& b, Value* end) {
  b.output(end);
  ir::infer_graph(b.graph());
  std::optional<ViewChain> chain = view_chain(end);
  ASSERT_TRUE(chain.has_value());
  // The source's values: run the graph with the source as an extra output.
  b.graph().outputs().push_back(chain->source);
  auto feeds = test::random_feeds(b.graph());
  std::vector<Tensor> out = test::run_graph(b.graph(), feeds);
  const Tensor& got = out[0];
  const Tensor& src = out[1];
  ASSERT_EQ(got.shape(), chain->view.shape);
  const Shape& shape = chain->view.shape;
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t e = 0; e < got.numel(); ++e) {
    int64_t offset = chain->view.offset;
    for (size_t d = 0; d < shape.size(); ++d) offset += index[d] * chain->view.strides[d];
    ASSERT_GE(offset, 0);
    ASSERT_LT(offset, src.numel());
    ASSERT_EQ(got.data<float>()[e], src.data<float>()[offset]) << "element " << e;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

TEST(StridedView, MultiheadAttentionExportSlices) {
  PassGraphBuilder b;
  Value* proj = b.op("Relu", {b.input("qkv", {7, 2, 36})});
  Value* split = b.op("Reshape", {proj, b.ints({7, 2, 3, 12})});
  Value* t =
      b.op("Transpose", {b.op("Unsqueeze", {split, b.ints({0})})}, perm_attr({3, 1, 2, 0, 4}));
  Value* qkv = b.op("Squeeze", {t, b.ints({3})});
  ir::Attributes axis0;
  axis0.set("axis", int64_t{0});
  Value* idx = b.graph().add_constant(
      "i", Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{2}));
  Value* v = b.op("Gather", {qkv, idx}, axis0);
  Value* heads = b.op("Transpose", {b.op("Reshape", {v, b.ints({7, 6, 4})})}, perm_attr({1, 0, 2}));
  expect_view_matches(b, b.op("Reshape", {heads, b.ints({2, 3, 7, 4})}));
}

TEST(StridedView, MergingDimsThatAreNotContiguousIsNoSingleStrideView) {
  PassGraphBuilder b;
  Value* x = b.op("Relu", {b.input("x", {4, 6})});
  // [6, 4] transposed and flattened: no stride walks it.
  Value* flat = b.op("Reshape", {b.op("Transpose", {x}, perm_attr({1, 0})), b.ints({24})});
  b.output(flat);
  ir::infer_graph(b.graph());
  EXPECT_FALSE(view_chain(flat).has_value());
}

// Random chains over a small tensor: each step picks an op that applies to the current shape.
TEST(StridedView, RandomChainsAddressWhatTheLayersProduce) {
  std::mt19937 gen(7);
  int checked = 0;
  for (int trial = 0; trial < 200; ++trial) {
    SCOPED_TRACE(trial);
    PassGraphBuilder b;
    Shape shape = {2, 3, 4};
    Value* cur = b.op("Relu", {b.input("x", ir::to_sym_shape(shape))});
    const int steps = 1 + static_cast<int>(gen() % 5);
    for (int s = 0; s < steps; ++s) {
      const int kind = static_cast<int>(gen() % 5);
      if (kind == 0) {  // Transpose by a random permutation
        std::vector<int64_t> p(shape.size());
        for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int64_t>(i);
        std::shuffle(p.begin(), p.end(), gen);
        cur = b.op("Transpose", {cur}, perm_attr(p));
        Shape next;
        for (int64_t i : p) next.push_back(shape[static_cast<size_t>(i)]);
        shape = next;
      } else if (kind == 1 && shape.size() >= 2) {  // merge two neighbouring dims
        const size_t i = gen() % (shape.size() - 1);
        Shape next(shape.begin(), shape.begin() + static_cast<int64_t>(i));
        next.push_back(shape[i] * shape[i + 1]);
        next.insert(next.end(), shape.begin() + static_cast<int64_t>(i) + 2, shape.end());
        cur = b.op("Reshape", {cur, b.ints(std::vector<int64_t>(next.begin(), next.end()))});
        shape = next;
      } else if (kind == 2) {  // split a dim with a divisor
        const size_t i = gen() % shape.size();
        int64_t f = 0;
        for (int64_t c = 2; c < shape[i]; ++c) {
          if (shape[i] % c == 0) f = c;
        }
        if (f == 0) continue;
        Shape next(shape.begin(), shape.begin() + static_cast<int64_t>(i));
        next.push_back(f);
        next.push_back(shape[i] / f);
        next.insert(next.end(), shape.begin() + static_cast<int64_t>(i) + 1, shape.end());
        cur = b.op("Reshape", {cur, b.ints(std::vector<int64_t>(next.begin(), next.end()))});
        shape = next;
      } else if (kind == 3) {  // Unsqueeze then Squeeze a size-1 dim somewhere
        const auto at = static_cast<int64_t>(gen() % (shape.size() + 1));
        cur = b.op("Squeeze", {b.op("Unsqueeze", {cur, b.ints({at})}), b.ints({at})});
      } else if (shape.size() >= 2) {  // Gather one index
        const size_t axis = gen() % shape.size();
        const auto i = static_cast<int64_t>(gen() % static_cast<uint32_t>(shape[axis]));
        ir::Attributes a;
        a.set("axis", static_cast<int64_t>(axis));
        Value* idx = b.graph().add_constant(
            "i" + std::to_string(s),
            Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{i}));
        cur = b.op("Gather", {cur, idx}, a);
        shape.erase(shape.begin() + static_cast<int64_t>(axis));
      }
    }
    if (cur->producer->op == "Relu") continue;  // no step applied
    b.output(cur);
    ir::infer_graph(b.graph());
    std::optional<ViewChain> chain = view_chain(cur);
    b.graph().outputs().clear();
    if (!chain) continue;  // e.g. a merge of non-contiguous dims: refused, not wrong
    expect_view_matches(b, cur);
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace kiln::passes
