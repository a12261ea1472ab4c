// Unary math kernels and the IsNaN/IsInf predicates: values against <cmath>, Round's ties to
// even, integer Abs/Neg/Sign, reduced-precision inputs and type refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;
using test::run_op;
using test::runtime;
using test::values;

Tensor run1(const std::string& op, const Tensor& x, ir::Attributes attrs = {}) {
  return run_op(op, attrs, {runtime(x)})[0];
}

TEST(UnaryKernels, FloatMathMatchesCmath) {
  const std::vector<float> x = {0.1f, 0.5f, 0.9f};
  Tensor t = make<float>(DataType::kFloat32, {3}, x);
  struct Case {
    const char* op;
    float (*fn)(float);
  };
  const Case cases[] = {
      {"Exp", [](float v) { return std::exp(v); }},
      {"Log", [](float v) { return std::log(v); }},
      {"Sqrt", [](float v) { return std::sqrt(v); }},
      {"Sin", [](float v) { return std::sin(v); }},
      {"Cos", [](float v) { return std::cos(v); }},
      {"Tan", [](float v) { return std::tan(v); }},
      {"Asin", [](float v) { return std::asin(v); }},
      {"Acos", [](float v) { return std::acos(v); }},
      {"Atan", [](float v) { return std::atan(v); }},
      {"Sinh", [](float v) { return std::sinh(v); }},
      {"Cosh", [](float v) { return std::cosh(v); }},
      {"Asinh", [](float v) { return std::asinh(v); }},
      {"Atanh", [](float v) { return std::atanh(v); }},
      {"Erf", [](float v) { return std::erf(v); }},
      {"Reciprocal", [](float v) { return 1 / v; }},
      {"Floor", [](float v) { return std::floor(v); }},
      {"Ceil", [](float v) { return std::ceil(v); }},
  };
  for (const Case& c : cases) {
    auto y = values<float>(run1(c.op, t));
    for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y[i], c.fn(x[i])) << c.op << " " << x[i];
  }
  Tensor big = make<float>(DataType::kFloat32, {2}, {1.5f, 10.f});
  auto y = values<float>(run1("Acosh", big));
  EXPECT_FLOAT_EQ(y[1], std::acosh(10.f));
}

TEST(UnaryKernels, RoundTiesToEven) {
  Tensor x = make<double>(DataType::kFloat64, {8}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, -2.6});
  EXPECT_EQ(values<double>(run1("Round", x)), std::vector<double>({0, 2, 2, -0, -2, 2, 3, -3}));
}

TEST(UnaryKernels, IntegerAbsNegSign) {
  Tensor x = make<int32_t>(DataType::kInt32, {4}, {-3, 0, 5, INT32_MIN});
  EXPECT_EQ(values<int32_t>(run1("Abs", x)), std::vector<int32_t>({3, 0, 5, INT32_MIN}));
  EXPECT_EQ(values<int32_t>(run1("Neg", x)), std::vector<int32_t>({3, 0, -5, INT32_MIN}));
  EXPECT_EQ(values<int32_t>(run1("Sign", x)), std::vector<int32_t>({-1, 0, 1, -1}));
  Tensor u = make<uint8_t>(DataType::kUInt8, {2}, {0, 200});
  EXPECT_EQ(values<uint8_t>(run1("Abs", u)), std::vector<uint8_t>({0, 200}));
  EXPECT_EQ(values<uint8_t>(run1("Sign", u)), std::vector<uint8_t>({0, 1}));
  EXPECT_EQ(values<uint8_t>(run1("BitwiseNot", u)), std::vector<uint8_t>({255, 55}));
}

TEST(UnaryKernels, HalfComputesInFloatAndRoundsOnce) {
  Tensor x = make<Half>(DataType::kFloat16, {2}, {Half(0.3f), Half(-2.0f)});
  auto y = values<Half>(run1("Exp", x));
  EXPECT_EQ(y[0].bits, Half(std::exp(static_cast<float>(Half(0.3f)))).bits);
  EXPECT_EQ(y[1].bits, Half(std::exp(-2.0f)).bits);
}

TEST(UnaryKernels, NotFlipsBool) {
  Tensor x = make<uint8_t>(DataType::kBool, {2}, {1, 0});
  EXPECT_EQ(values<bool>(run1("Not", x)), std::vector<bool>({false, true}));
}

TEST(UnaryKernels, IsNaNAndIsInfWithDetectFlags) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make<float>(DataType::kFloat32, {4}, {inf, -inf, nan, 1.f});
  EXPECT_EQ(values<bool>(run1("IsNaN", x)), std::vector<bool>({false, false, true, false}));
  EXPECT_EQ(values<bool>(run1("IsInf", x)), std::vector<bool>({true, true, false, false}));
  ir::Attributes pos_only;
  pos_only.set("detect_negative", int64_t{0});
  EXPECT_EQ(values<bool>(run1("IsInf", x, pos_only)),
            std::vector<bool>({true, false, false, false}));
  ir::Attributes neg_only;
  neg_only.set("detect_positive", int64_t{0});
  EXPECT_EQ(values<bool>(run1("IsInf", x, neg_only)),
            std::vector<bool>({false, true, false, false}));
  // E4M3FN: 0x7f / 0xff are NaN; there is no infinity.
  Tensor f8 = make<uint8_t>(DataType::kFloat8E4M3, {3}, {0x7f, 0xff, 0x7e});
  EXPECT_EQ(values<bool>(run1("IsNaN", f8)), std::vector<bool>({true, true, false}));
  EXPECT_EQ(values<bool>(run1("IsInf", f8)), std::vector<bool>({false, false, false}));
}

TEST(UnaryKernels, RefusesTypesOutsideTheOp) {
  Tensor x = make<int32_t>(DataType::kInt32, {1}, {1});
  try {
    run1("Exp", x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  Tensor b = make<uint8_t>(DataType::kBool, {1}, {1});
  EXPECT_THROW(run1("Neg", b), Error);
  Tensor u = make<uint32_t>(DataType::kUInt32, {1}, {1});
  EXPECT_THROW(run1("Neg", u), Error);
}

}  // namespace
}  // namespace kiln
