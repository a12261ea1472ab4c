// Kernels of RMSNormalization, LRN, MeanVarianceNormalization, Swish, SwiGLU and Shrink against
// their formulas evaluated here, including a float16 Swish rounded step by step.
#include <gtest/gtest.h>

#include <cmath>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::run_op;
using test::runtime;
using test::values;

Tensor f32(Shape s, std::vector<float> v) {
  return make(DataType::kFloat32, std::move(s), std::move(v));
}

TEST(RMSNormalization, NormalizesTrailingAxesAndBroadcastsScale) {
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("epsilon", 0.5f);
  std::vector<float> x{1, 2, 3, 4, -1, 0, 2, 5};
  Tensor y =
      run_op("RMSNormalization", a, {runtime(f32({2, 2, 2}, x)), constant(f32({2}, {2, -1}))})[0];
  for (int r = 0; r < 2; ++r) {
    double ms = 0;
    for (int i = 0; i < 4; ++i)
      ms += x[static_cast<size_t>(r * 4 + i)] * x[static_cast<size_t>(r * 4 + i)] / 4;
    double inv = 1 / std::sqrt(ms + 0.5);
    for (int i = 0; i < 4; ++i)
      EXPECT_NEAR(y.data<float>()[r * 4 + i],
                  x[static_cast<size_t>(r * 4 + i)] * inv * (i % 2 ? -1 : 2), 1e-5);
  }
}

TEST(RMSNormalization, ScaleThatDoesNotBroadcastIsRejected) {
  EXPECT_THROW(run_op("RMSNormalization", {},
                      {runtime(f32({2, 3}, std::vector<float>(6, 1))), constant(f32({2}, {1, 1}))}),
               Error);
}

TEST(LRN, SumsSquaresOverTheChannelWindow) {
  ir::Attributes a;
  a.set("size", int64_t{2});  // window [c, c + 1]
  a.set("alpha", 0.5f);
  a.set("beta", 1.0f);
  a.set("bias", 1.0f);
  std::vector<float> x{1, 2, 3};
  Tensor y = run_op("LRN", a, {runtime(f32({1, 3, 1, 1}, x))})[0];
  EXPECT_NEAR(y.data<float>()[0], 1 / (1 + 0.25 * (1 + 4)), 1e-6);
  EXPECT_NEAR(y.data<float>()[1], 2 / (1 + 0.25 * (4 + 9)), 1e-6);
  EXPECT_NEAR(y.data<float>()[2], 3 / (1 + 0.25 * 9), 1e-6);
}

TEST(MeanVarianceNormalization, DefaultAxesKeepChannelsApart) {
  // (N=2, C=2, 1, 1): statistics per channel over the batch.
  Tensor y =
      run_op("MeanVarianceNormalization", {}, {runtime(f32({2, 2, 1, 1}, {1, 10, 3, 30}))})[0];
  EXPECT_NEAR(y.data<float>()[0], -1, 1e-6);
  EXPECT_NEAR(y.data<float>()[2], 1, 1e-6);
  EXPECT_NEAR(y.data<float>()[1], -1, 1e-6);
  EXPECT_NEAR(y.data<float>()[3], 1, 1e-6);
}

TEST(Swish, MatchesXTimesSigmoidAlphaX) {
  ir::Attributes a;
  a.set("alpha", 2.0f);
  std::vector<float> x{-3, -0.5f, 0, 0.5f, 3};
  Tensor y = run_op("Swish", a, {runtime(f32({5}, x))})[0];
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(y.data<float>()[i], x[i] / (1 + std::exp(-2 * x[i])), 1e-6);
}

TEST(Swish, Float16RoundsEachStep) {
  std::vector<Half> x{Half(1.3f), Half(-2.7f)};
  Tensor y = run_op("Swish", {}, {runtime(make(DataType::kFloat16, {2}, x))})[0];
  for (size_t i = 0; i < x.size(); ++i) {
    auto r = [](float v) { return static_cast<float>(Half(v)); };
    float xf = static_cast<float>(x[i]);
    float expected = r(xf * r(1.0f / r(1.0f + r(std::exp(r(-xf))))));
    EXPECT_EQ(static_cast<float>(y.data<Half>()[i]), expected);
  }
}

TEST(SwiGLU, GatesBWithSwishOfA) {
  std::vector<float> a{-1, 0.5f, 2}, b{3, -2, 0.25f};
  Tensor y = run_op("SwiGLU", {}, {runtime(f32({3}, a)), runtime(f32({3}, b))})[0];
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(y.data<float>()[i], a[i] / (1 + std::exp(-a[i])) * b[i], 1e-6);
  EXPECT_THROW(run_op("SwiGLU", {}, {runtime(f32({3}, a)), runtime(f32({1}, {1}))}), Error);
}

TEST(Shrink, SoftAndHardOnFloatsAndInts) {
  ir::Attributes a;
  a.set("lambd", 1.5f);
  a.set("bias", 1.0f);
  Tensor y = run_op("Shrink", a, {runtime(f32({5}, {-3, -1, 0, 1.5f, 2}))})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{-2, 0, 0, 0, 1}));
  Tensor yi = run_op("Shrink", a,
                     {runtime(make(DataType::kInt32, {3}, std::vector<int32_t>{-4, 1, 7}))})[0];
  EXPECT_EQ(values<int32_t>(yi), (std::vector<int32_t>{-3, 0, 6}));
}

}  // namespace
}  // namespace kiln
