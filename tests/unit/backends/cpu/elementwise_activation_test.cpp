// Activation kernels, Clip and PRelu: formulas with their attribute defaults, numerically safe
// extremes, optional and inverted Clip bounds, integer Clip and broadcast slopes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::omitted;
using test::run_op;
using test::runtime;
using test::values;

std::vector<float> run_f(const std::string& op, const std::vector<float>& x,
                         ir::Attributes attrs = {}) {
  Tensor t = make<float>(DataType::kFloat32, {static_cast<int64_t>(x.size())}, x);
  return values<float>(run_op(op, attrs, {runtime(t)})[0]);
}

void expect_near_all(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-6 * std::max(1.0, std::fabs(want[i]))) << "element " << i;
  }
}

TEST(ActivationKernels, ReluFamily) {
  const std::vector<float> x = {-2.f, -0.5f, 0.f, 0.5f, 3.f};
  expect_near_all(run_f("Relu", x), {0, 0, 0, 0.5, 3});
  expect_near_all(run_f("LeakyRelu", x), {-0.02, -0.005, 0, 0.5, 3});
  ir::Attributes alpha;
  alpha.set("alpha", 0.5f);
  expect_near_all(run_f("LeakyRelu", x, alpha), {-1, -0.25, 0, 0.5, 3});
  expect_near_all(run_f("ThresholdedRelu", x), {0, 0, 0, 0, 3});
  expect_near_all(run_f("Elu", x), {std::expm1(-2.0), std::expm1(-0.5), 0, 0.5, 3});
  const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  expect_near_all(run_f("Selu", x),
                  {g * a * std::expm1(-2.0), g * a * std::expm1(-0.5), 0, g * 0.5, g * 3});
  ir::Attributes celu;
  celu.set("alpha", 2.f);
  expect_near_all(run_f("Celu", x, celu), {2 * std::expm1(-1.0), 2 * std::expm1(-0.25), 0, 0.5, 3});
  Tensor i = make<int8_t>(DataType::kInt8, {3}, {-5, 0, 7});
  EXPECT_EQ(values<int8_t>(run_op("Relu", {}, {runtime(i)})[0]), std::vector<int8_t>({0, 0, 7}));
}

TEST(ActivationKernels, SmoothActivations) {
  const std::vector<float> x = {-3.f, -0.5f, 0.f, 1.f, 4.f};
  std::vector<double> sig, tanh_, hs, hsw, sp, ss, mish, gelu, gelu_tanh;
  for (float f : x) {
    double v = f;
    sig.push_back(1 / (1 + std::exp(-v)));
    tanh_.push_back(std::tanh(v));
    hs.push_back(std::clamp(0.2 * v + 0.5, 0.0, 1.0));
    hsw.push_back(v * std::clamp(v / 6 + 0.5, 0.0, 1.0));
    sp.push_back(std::log(std::exp(v) + 1));
    ss.push_back(v / (1 + std::fabs(v)));
    mish.push_back(v * std::tanh(std::log1p(std::exp(v))));
    gelu.push_back(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    gelu_tanh.push_back(
        0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v))));
  }
  expect_near_all(run_f("Sigmoid", x), sig);
  expect_near_all(run_f("Tanh", x), tanh_);
  expect_near_all(run_f("HardSigmoid", x), hs);
  expect_near_all(run_f("HardSwish", x), hsw);
  expect_near_all(run_f("Softplus", x), sp);
  expect_near_all(run_f("Softsign", x), ss);
  expect_near_all(run_f("Mish", x), mish);
  expect_near_all(run_f("Gelu", x), gelu);
  ir::Attributes tanh_approx;
  tanh_approx.set("approximate", std::string("tanh"));
  expect_near_all(run_f("Gelu", x, tanh_approx), gelu_tanh);
}

TEST(ActivationKernels, ExtremeInputsStayFinite) {
  const std::vector<float> x = {-1000.f, 1000.f};
  expect_near_all(run_f("Sigmoid", x), {0, 1});
  expect_near_all(run_f("Softplus", x), {0, 1000});
  expect_near_all(run_f("Mish", x), {0, 1000});
  // Softplus of a very negative x keeps its tiny value instead of rounding log(1 + e) to 0.
  EXPECT_NEAR(run_f("Softplus", {-30.f})[0], std::exp(-30.0), 1e-18);
}

TEST(ActivationKernels, GeluRejectsUnknownApproximation) {
  ir::Attributes bad;
  bad.set("approximate", std::string("fast"));
  EXPECT_THROW(run_f("Gelu", {1.f}, bad), Error);
}

Tensor scalar(float v) {
  return make<float>(DataType::kFloat32, {}, {v});
}

TEST(ActivationKernels, ClipWithOptionalBounds) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make<float>(DataType::kFloat32, {5}, {-inf, -2.f, 0.f, 6.f, inf});
  auto both =
      values<float>(run_op("Clip", {}, {runtime(x), constant(scalar(-1)), runtime(scalar(1))})[0]);
  EXPECT_EQ(both, std::vector<float>({-1, -1, 0, 1, 1}));
  // An omitted bound is the type's lowest or largest finite value (ONNX's numeric_limits, as in
  // ONNX Runtime), so an infinity clips to it.
  const float big = std::numeric_limits<float>::max();
  auto no_min = values<float>(run_op("Clip", {}, {runtime(x), omitted(), constant(scalar(1))})[0]);
  EXPECT_EQ(no_min, std::vector<float>({-big, -2, 0, 1, 1}));
  auto no_max = values<float>(run_op("Clip", {}, {runtime(x), constant(scalar(-1))})[0]);
  EXPECT_EQ(no_max, std::vector<float>({-1, -1, 0, 6, big}));
  auto none = values<float>(run_op("Clip", {}, {runtime(x)})[0]);
  EXPECT_EQ(none, std::vector<float>({-big, -2, 0, 6, big}));
  // min > max: everything becomes max.
  auto inverted =
      values<float>(run_op("Clip", {}, {runtime(x), constant(scalar(2)), constant(scalar(1))})[0]);
  EXPECT_EQ(inverted, std::vector<float>({1, 1, 1, 1, 1}));
  Tensor n = make<float>(DataType::kFloat32, {1}, {nan});
  EXPECT_TRUE(std::isnan(values<float>(
      run_op("Clip", {}, {runtime(n), constant(scalar(0)), constant(scalar(1))})[0])[0]));
}

TEST(ActivationKernels, IntegerClip) {
  Tensor x = make<int8_t>(DataType::kInt8, {4}, {-128, -5, 5, 127});
  Tensor lo = make<int8_t>(DataType::kInt8, {}, {-10});
  EXPECT_EQ(values<int8_t>(run_op("Clip", {}, {runtime(x), constant(lo)})[0]),
            std::vector<int8_t>({-10, -5, 5, 127}));
  Tensor hi = make<int8_t>(DataType::kInt8, {1}, {0});
  EXPECT_EQ(values<int8_t>(run_op("Clip", {}, {runtime(x), omitted(), constant(hi)})[0]),
            std::vector<int8_t>({-128, -5, 0, 0}));
}

TEST(ActivationKernels, ClipRefusesBoundsOfAnotherType) {
  Tensor x = make<int8_t>(DataType::kInt8, {1}, {1});
  EXPECT_THROW(run_op("Clip", {}, {runtime(x), constant(scalar(0))}), Error);
}

TEST(ActivationKernels, PReluBroadcastsSlopePerChannel) {
  Tensor x = make<float>(DataType::kFloat32, {1, 2, 2}, {-1, 2, -3, 4});
  Tensor slope = make<float>(DataType::kFloat32, {2, 1}, {0.5f, 0.25f});
  auto y = run_op("PRelu", {}, {runtime(x), constant(slope)})[0];
  EXPECT_EQ(y.shape(), Shape({1, 2, 2}));
  EXPECT_EQ(values<float>(y), std::vector<float>({-0.5f, 2, -0.75f, 4}));
  // A slope that would enlarge X is refused.
  Tensor wide = make<float>(DataType::kFloat32, {3, 1, 1, 1}, {1, 2, 3});
  EXPECT_THROW(run_op("PRelu", {}, {runtime(x), constant(wide)}), Error);
}

TEST(ActivationKernels, BFloat16Activation) {
  Tensor x = make<BFloat16>(DataType::kBFloat16, {2}, {BFloat16(-1.f), BFloat16(1.f)});
  auto y = values<BFloat16>(run_op("Sigmoid", {}, {runtime(x)})[0]);
  EXPECT_EQ(y[0].bits, BFloat16(static_cast<float>(1 / (1 + std::exp(1.0)))).bits);
  EXPECT_EQ(y[1].bits, BFloat16(static_cast<float>(1 / (1 + std::exp(-1.0)))).bits);
}

}  // namespace
}  // namespace kiln
