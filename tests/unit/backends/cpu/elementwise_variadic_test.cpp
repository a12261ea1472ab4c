// Variadic Sum/Mean/Max/Min and Where: broadcasting across any number of inputs, NaN
// propagation, reduced precision accumulated in float, and Where over every element size.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::run_op;
using test::runtime;
using test::values;

TEST(VariadicKernels, SumBroadcastsThreeInputs) {
  Tensor a = make<float>(DataType::kFloat32, {2, 1}, {1, 2});
  Tensor b = make<float>(DataType::kFloat32, {3}, {10, 20, 30});
  Tensor c = make<float>(DataType::kFloat32, {}, {100});
  Tensor y = run_op("Sum", {}, {runtime(a), runtime(b), constant(c)})[0];
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  EXPECT_EQ(values<float>(y), std::vector<float>({111, 121, 131, 112, 122, 132}));
  // The first two inputs alone need not span the output shape.
  Tensor s1 = make<float>(DataType::kFloat32, {1}, {1});
  Tensor y2 = run_op("Sum", {}, {runtime(s1), runtime(s1), runtime(b)})[0];
  EXPECT_EQ(values<float>(y2), std::vector<float>({12, 22, 32}));
}

TEST(VariadicKernels, SingleInputIsACopy) {
  Tensor a = make<double>(DataType::kFloat64, {2}, {1.5, -2});
  EXPECT_EQ(values<double>(run_op("Mean", {}, {runtime(a)})[0]), std::vector<double>({1.5, -2}));
  EXPECT_EQ(values<double>(run_op("Max", {}, {runtime(a)})[0]), std::vector<double>({1.5, -2}));
}

TEST(VariadicKernels, MeanOfHalvesAccumulatesInFloat) {
  // 2048 + 1 + 1 is 2050 in float but 2048 if each partial sum were rounded to half
  // (half spacing at 2048 is 2).
  auto h = [](float v) { return make<Half>(DataType::kFloat16, {1}, {Half(v)}); };
  Tensor y = run_op("Sum", {}, {runtime(h(2048)), runtime(h(1)), runtime(h(1))})[0];
  EXPECT_EQ(static_cast<float>(values<Half>(y)[0]), 2050.f);
  Tensor m = run_op("Mean", {}, {runtime(h(1)), runtime(h(2)), runtime(h(4))})[0];
  EXPECT_EQ(values<Half>(m)[0].bits, Half(7.f / 3.f).bits);
}

TEST(VariadicKernels, MaxMinPropagateNaNAndCoverIntegers) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = make<float>(DataType::kFloat32, {3}, {nan, 1, 5});
  Tensor b = make<float>(DataType::kFloat32, {3}, {1, nan, 2});
  auto mx = values<float>(run_op("Max", {}, {runtime(a), runtime(b)})[0]);
  EXPECT_TRUE(std::isnan(mx[0]));
  EXPECT_TRUE(std::isnan(mx[1]));
  EXPECT_EQ(mx[2], 5);
  auto mn = values<float>(run_op("Min", {}, {runtime(a), runtime(b)})[0]);
  EXPECT_TRUE(std::isnan(mn[0]));
  EXPECT_TRUE(std::isnan(mn[1]));
  EXPECT_EQ(mn[2], 2);
  Tensor u = make<uint64_t>(DataType::kUInt64, {2}, {1, std::numeric_limits<uint64_t>::max()});
  Tensor v = make<uint64_t>(DataType::kUInt64, {1}, {7});
  EXPECT_EQ(values<uint64_t>(run_op("Min", {}, {runtime(u), runtime(v)})[0]),
            std::vector<uint64_t>({1, 7}));
  Tensor i = make<int16_t>(DataType::kInt16, {2}, {-3, 4});
  Tensor j = make<int16_t>(DataType::kInt16, {2}, {-5, 9});
  Tensor k = make<int16_t>(DataType::kInt16, {1}, {0});
  EXPECT_EQ(values<int16_t>(run_op("Max", {}, {runtime(i), runtime(j), runtime(k)})[0]),
            std::vector<int16_t>({0, 9}));
}

TEST(VariadicKernels, SumRefusesIntegers) {
  Tensor a = make<int32_t>(DataType::kInt32, {1}, {1});
  EXPECT_THROW(run_op("Sum", {}, {runtime(a), runtime(a)}), Error);
}

TEST(VariadicKernels, WhereBroadcastsThreeWays) {
  Tensor c = make<uint8_t>(DataType::kBool, {2, 1}, {1, 0});
  Tensor x = make<int64_t>(DataType::kInt64, {3}, {1, 2, 3});
  Tensor y = make<int64_t>(DataType::kInt64, {}, {-1});
  Tensor out = run_op("Where", {}, {runtime(c), runtime(x), runtime(y)})[0];
  EXPECT_EQ(out.shape(), Shape({2, 3}));
  EXPECT_EQ(values<int64_t>(out), std::vector<int64_t>({1, 2, 3, -1, -1, -1}));
}

TEST(VariadicKernels, WhereOnEveryElementSize) {
  Tensor c = make<uint8_t>(DataType::kBool, {2}, {0, 1});
  Tensor f8 = make<uint8_t>(DataType::kFloat8E4M3, {2}, {0x38, 0x40});
  Tensor g8 = make<uint8_t>(DataType::kFloat8E4M3, {2}, {0x01, 0x02});
  EXPECT_EQ(values<uint8_t>(run_op("Where", {}, {runtime(c), runtime(f8), runtime(g8)})[0]),
            std::vector<uint8_t>({0x01, 0x40}));
  Tensor h = make<Half>(DataType::kFloat16, {2}, {Half(1.f), Half(2.f)});
  Tensor h0 = make<Half>(DataType::kFloat16, {1}, {Half(0.f)});
  auto hy = values<Half>(run_op("Where", {}, {runtime(c), runtime(h), runtime(h0)})[0]);
  EXPECT_EQ(static_cast<float>(hy[0]), 0.f);
  EXPECT_EQ(static_cast<float>(hy[1]), 2.f);
  Tensor b1 = make<uint8_t>(DataType::kBool, {2}, {1, 1});
  Tensor b0 = make<uint8_t>(DataType::kBool, {2}, {0, 0});
  EXPECT_EQ(values<bool>(run_op("Where", {}, {runtime(c), runtime(b1), runtime(b0)})[0]),
            std::vector<bool>({false, true}));
  Tensor big_c = make<uint8_t>(DataType::kBool, {1}, {1});
  Tensor fx = make<float>(DataType::kFloat32, {2}, {1, 2});
  EXPECT_EQ(values<float>(run_op("Where", {}, {runtime(big_c), runtime(fx), runtime(fx)})[0]),
            std::vector<float>({1, 2}));
}

TEST(VariadicKernels, WhereNeedsBoolConditionAndMatchingTypes) {
  Tensor fc = make<float>(DataType::kFloat32, {1}, {1});
  Tensor x = make<float>(DataType::kFloat32, {1}, {1});
  EXPECT_THROW(run_op("Where", {}, {runtime(fc), runtime(x), runtime(x)}), Error);
  Tensor c = make<uint8_t>(DataType::kBool, {1}, {1});
  Tensor d = make<double>(DataType::kFloat64, {1}, {1});
  EXPECT_THROW(run_op("Where", {}, {runtime(c), runtime(x), runtime(d)}), Error);
}

}  // namespace
}  // namespace kiln
