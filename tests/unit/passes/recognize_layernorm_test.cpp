// recognize_layernorm on the decomposed forms older exporters write; the result stays within
// float rounding of the decomposed graph; patterns over other axes or with shared intermediates
// are left alone.
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

enum class Norm { kDiv, kReciprocal, kOneOver, kRsqrt };

struct Options {
  Norm norm = Norm::kDiv;
  bool mul_square = false;  // xc * xc instead of Pow(xc, 2)
  bool axes_attr = false;   // opset < 18: axes as an attribute
  bool gamma = true;
  bool beta = true;
};

Value* decomposed(PassGraphBuilder& b, Value* x, const Options& o, int64_t d) {
  auto mean = [&](Value* v) {
    return o.axes_attr ? b.op("ReduceMean", {v}, attrs({{"axes", std::vector<int64_t>{-1}}}))
                       : b.op("ReduceMean", {v, b.ints({-1})});
  };
  Value* xc = b.op("Sub", {x, mean(x)});
  Value* sq = o.mul_square ? b.op("Mul", {xc, xc}) : b.op("Pow", {xc, b.scalar(2.0f)});
  Value* ve = b.op("Add", {b.scalar(1e-5f), mean(sq)});
  Value* y = nullptr;
  switch (o.norm) {
    case Norm::kDiv:
      y = b.op("Div", {xc, b.op("Sqrt", {ve})});
      break;
    case Norm::kReciprocal:
      y = b.op("Mul", {b.op("Reciprocal", {b.op("Sqrt", {ve})}), xc});
      break;
    case Norm::kOneOver:
      y = b.op("Mul", {xc, b.op("Div", {b.scalar(1.0f), b.op("Sqrt", {ve})})});
      break;
    case Norm::kRsqrt:
      y = b.op("Mul", {xc, b.op("Pow", {ve, b.scalar(-0.5f)})});
      break;
  }
  std::vector<float> g(static_cast<size_t>(d)), bt(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) {
    g[static_cast<size_t>(i)] = 0.5f + 0.1f * static_cast<float>(i);
    bt[static_cast<size_t>(i)] = 0.2f - 0.05f * static_cast<float>(i);
  }
  if (o.gamma) y = b.op("Mul", {b.constant({d}, g), y});
  if (o.beta) y = b.op("Add", {y, b.constant({d}, bt)});
  return y;
}

TEST(RecognizeLayerNorm, DecomposedFormsBecomeOneLayerNormalization) {
  std::vector<Options> variants;
  for (Norm n : {Norm::kDiv, Norm::kReciprocal, Norm::kOneOver, Norm::kRsqrt}) {
    Options o;
    o.norm = n;
    variants.push_back(o);
  }
  Options sq;
  sq.mul_square = true;
  sq.axes_attr = true;
  variants.push_back(sq);
  Options bare;
  bare.gamma = bare.beta = false;
  variants.push_back(bare);
  Options shift_only;
  shift_only.gamma = false;
  variants.push_back(shift_only);
  for (size_t i = 0; i < variants.size(); ++i) {
    SCOPED_TRACE(i);
    PassGraphBuilder b;
    Value* x = b.input("x", {Dim::symbolic("batch"), Dim::symbolic("seq"), 12});
    b.output(decomposed(b, x, variants[i], 12));
    auto after =
        test::apply_and_compare(b.graph(), recognize_layernorm, 2e-6, {{"batch", 2}, {"seq", 5}});
    ASSERT_EQ(ops(*after), std::vector<std::string>{"LayerNormalization"});
    const ir::Node& ln = *after->nodes()[0];
    EXPECT_EQ(ln.attrs.get_int("axis"), -1);
    EXPECT_FLOAT_EQ(ln.attrs.get_float("epsilon"), 1e-5f);
    EXPECT_EQ(ln.inputs.size(), variants[i].beta ? 3u : 2u);
  }
}

TEST(RecognizeLayerNorm, LeavesOtherAxesAndSharedIntermediatesAlone) {
  {
    PassGraphBuilder b;  // normalizes over axis 1 of 3: not a layer norm over trailing axes
    Value* x = b.input("x", {2, 4, 6});
    Value* xc = b.op("Sub", {x, b.op("ReduceMean", {x, b.ints({1})})});
    Value* var = b.op("ReduceMean", {b.op("Pow", {xc, b.scalar(2.0f)}), b.ints({1})});
    b.output(b.op("Div", {xc, b.op("Sqrt", {b.op("Add", {var, b.scalar(1e-5f)})})}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_layernorm(b.graph()));
  }
  {
    PassGraphBuilder b;  // the variance is also a graph output
    Value* x = b.input("x", {2, 6});
    Value* xc = b.op("Sub", {x, b.op("ReduceMean", {x, b.ints({-1})})});
    Value* var = b.op("ReduceMean", {b.op("Pow", {xc, b.scalar(2.0f)}), b.ints({-1})});
    b.output(b.op("Div", {xc, b.op("Sqrt", {b.op("Add", {var, b.scalar(1e-5f)})})}));
    b.output(var);
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_layernorm(b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
