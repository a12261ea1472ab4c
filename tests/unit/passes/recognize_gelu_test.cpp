// recognize_gelu on the erf and tanh forms exporters write, in several operand orders; results
// stay within float rounding of the decomposed graph; partial or shared patterns are left alone.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Dim;
using ir::Value;
using test::ops;
using test::PassGraphBuilder;

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kSqrt2 = 1.41421356237309505f;

enum class Half { kOnProduct, kOnX, kOnSum };

// 0.5 * x * (1 + erf(x / sqrt2)) with the 0.5 and the division placed as `half` and `div` say.
Value* erf_gelu(PassGraphBuilder& b, Value* x, Half half, bool div, bool swap) {
  Value* u = div ? b.op("Div", {x, b.scalar(kSqrt2)}) : b.op("Mul", {b.scalar(kInvSqrt2), x});
  Value* e = b.op("Erf", {u});
  // The swapped form uses Sum, as ONNX's Gelu function body does.
  Value* p = swap ? b.op("Sum", {b.scalar(1.0f), e}) : b.op("Add", {e, b.scalar(1.0f)});
  switch (half) {
    case Half::kOnProduct:
      return b.op("Mul", {b.op("Mul", {x, p}), b.scalar(0.5f)});
    case Half::kOnX:
      return b.op("Mul", {b.op("Mul", {x, b.scalar(0.5f)}), p});
    case Half::kOnSum:
      return b.op("Mul", {x, b.op("Div", {p, b.scalar(2.0f)})});
  }
  return nullptr;
}

TEST(RecognizeGelu, ErfFormInEveryOrderBecomesOneGelu) {
  for (Half half : {Half::kOnProduct, Half::kOnX, Half::kOnSum}) {
    for (bool div : {false, true}) {
      for (bool swap : {false, true}) {
        SCOPED_TRACE(::testing::Message() << static_cast<int>(half) << div << swap);
        PassGraphBuilder b;
        Value* x = b.input("x", {Dim::symbolic("batch"), 16});
        b.output(erf_gelu(b, b.op("Relu", {x}), half, div, swap));
        auto after = test::apply_and_compare(b.graph(), recognize_gelu, 1e-6, {{"batch", 3}});
        ASSERT_EQ(ops(*after), (std::vector<std::string>{"Relu", "Gelu"}));
        EXPECT_EQ(after->nodes()[1]->attrs.get_string("approximate"), "none");
        EXPECT_EQ(after->nodes()[1]->origins.size(), 5u);
        EXPECT_EQ(after->outputs()[0]->name, b.graph().outputs()[0]->name);
      }
    }
  }
}

TEST(RecognizeGelu, TanhFormWithPowOrMulCubes) {
  const float k = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
  for (int cube_form = 0; cube_form < 3; ++cube_form) {
    SCOPED_TRACE(cube_form);
    PassGraphBuilder b;
    Value* x = b.input("x", {4, 8});
    Value* cube = cube_form == 0   ? b.op("Pow", {x, b.scalar(3.0f)})
                  : cube_form == 1 ? b.op("Mul", {x, b.op("Mul", {x, x})})
                                   : b.op("Mul", {b.op("Mul", {x, x}), x});
    Value* inner = b.op("Add", {x, b.op("Mul", {b.scalar(0.044715f), cube})});
    Value* t = b.op("Tanh", {b.op("Mul", {inner, b.scalar(k)})});
    Value* p = b.op("Add", {t, b.scalar(1.0f)});
    b.output(b.op("Mul", {b.op("Mul", {b.scalar(0.5f), x}), p}));
    auto after = test::apply_and_compare(b.graph(), recognize_gelu, 1e-6);
    ASSERT_EQ(ops(*after), std::vector<std::string>{"Gelu"});
    EXPECT_EQ(after->nodes()[0]->attrs.get_string("approximate"), "tanh");
  }
}

TEST(RecognizeGelu, LeavesSharedIntermediatesAndWrongConstantsAlone) {
  {
    PassGraphBuilder b;
    Value* x = b.input("x", {8});
    Value* e = b.op("Erf", {b.op("Mul", {x, b.scalar(kInvSqrt2)})});
    Value* p = b.op("Add", {e, b.scalar(1.0f)});
    b.output(b.op("Mul", {b.op("Mul", {x, p}), b.scalar(0.5f)}));
    b.output(e);  // erf is needed elsewhere
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_gelu(b.graph()));
  }
  {
    PassGraphBuilder b;
    Value* x = b.input("x", {8});
    Value* e = b.op("Erf", {b.op("Mul", {x, b.scalar(0.6f)})});  // not 1/sqrt(2)
    Value* p = b.op("Add", {e, b.scalar(1.0f)});
    b.output(b.op("Mul", {b.op("Mul", {x, p}), b.scalar(0.5f)}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_gelu(b.graph()));
  }
  {
    PassGraphBuilder b;  // multiplies by another tensor than the Erf's input
    Value* x = b.input("x", {8});
    Value* y = b.input("y", {8});
    Value* e = b.op("Erf", {b.op("Mul", {x, b.scalar(kInvSqrt2)})});
    Value* p = b.op("Add", {e, b.scalar(1.0f)});
    b.output(b.op("Mul", {b.op("Mul", {y, p}), b.scalar(0.5f)}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(recognize_gelu(b.graph()));
  }
}

TEST(RecognizeGelu, SixteenBitConstantsRoundedToTheirTypeStillMatch) {
  // A model saved in FP16 stores sqrt(2) as 1.4140625; 1.375 is no rounding of it.
  for (float sqrt2 : {kSqrt2, 1.375f}) {
    PassGraphBuilder b;
    Value* x = b.input("x", {8}, DataType::kFloat16);
    auto h = [&](float v) { return b.scalar(v, DataType::kFloat16); };
    Value* e = b.op("Erf", {b.op("Div", {x, h(sqrt2)})});
    Value* p = b.op("Add", {e, h(1.0f)});
    b.output(b.op("Mul", {b.op("Mul", {x, p}), h(0.5f)}));
    ir::infer_graph(b.graph());
    EXPECT_EQ(recognize_gelu(b.graph()), sqrt2 == kSqrt2) << sqrt2;
  }
}

}  // namespace
}  // namespace kiln::passes
