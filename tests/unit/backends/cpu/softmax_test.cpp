// Softmax, LogSoftmax and Hardmax along one axis and with the pre-opset-13 2-D coercion.
#include <gtest/gtest.h>

#include <cmath>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;
using test::run_op;
using test::runtime;
using test::values;

TEST(Softmax, AlongAMiddleAxis) {
  // [2, 2, 2]: softmax over axis 1 pairs (x[i,0,k], x[i,1,k]).
  Tensor x = make<float>(DataType::kFloat32, {2, 2, 2}, {0, 1, 1, 1, 2, 0, 2, 0});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  Tensor y = run_op("Softmax", a, {runtime(x)})[0];
  double e = 1.0 / (1.0 + std::exp(1.0));  // softmax(0, 1)[0]
  std::vector<double> expected{e, 0.5, 1 - e, 0.5, 0.5, 0.5, 0.5, 0.5};
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(y.data<float>()[i], expected[i], 1e-6) << i;
}

TEST(Softmax, LargeValuesStayFinite) {
  Tensor x = make<float>(DataType::kFloat32, {3}, {1000, 1000, 1000});
  EXPECT_EQ(values<float>(run_op("Softmax", {}, {runtime(x)})[0]),
            (std::vector<float>{1.0f / 3, 1.0f / 3, 1.0f / 3}));
  Tensor l = run_op("LogSoftmax", {}, {runtime(x)})[0];
  EXPECT_NEAR(l.data<float>()[0], -std::log(3.0), 1e-6);
}

TEST(Softmax, Coerce2dRunsOverAllTrailingAxes) {
  Tensor x = make<double>(DataType::kFloat64, {1, 2, 2}, {0, 0, 0, std::log(5.0)});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("coerce_2d", int64_t{1});
  Tensor y = run_op("Softmax", a, {runtime(x)})[0];
  std::vector<double> expected{0.125, 0.125, 0.125, 0.625};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<double>()[i], expected[i], 1e-12);
}

TEST(Hardmax, FirstMaximumWins) {
  Tensor x = make<float>(DataType::kFloat32, {2, 3}, {1, 3, 3, -1, -2, -3});
  EXPECT_EQ(values<float>(run_op("Hardmax", {}, {runtime(x)})[0]),
            (std::vector<float>{0, 1, 0, 1, 0, 0}));
  ir::Attributes a;
  a.set("axis", int64_t{0});
  EXPECT_EQ(values<float>(run_op("Hardmax", a, {runtime(x)})[0]),
            (std::vector<float>{1, 1, 1, 0, 0, 0}));
}

TEST(Softmax, HalfComputesInFloat) {
  Tensor x = make(DataType::kFloat16, {2}, std::vector<Half>{Half(0), Half(0)});
  Tensor y = run_op("Softmax", {}, {runtime(x)})[0];
  EXPECT_EQ(static_cast<float>(y.data<Half>()[0]), 0.5f);
}

TEST(Softmax, AxisOutOfRangeIsAClearError) {
  Tensor x = make<float>(DataType::kFloat32, {2}, {1, 2});
  ir::Attributes a;
  a.set("axis", int64_t{3});
  try {
    run_op("Softmax", a, {runtime(x)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("axis 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
