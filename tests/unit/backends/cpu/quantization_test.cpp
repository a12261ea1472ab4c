// QuantizeLinear and DequantizeLinear on the CPU backend: per-tensor, per-axis and blocked
// scales, rounding half to even, saturation, float8 and output_dtype.
#include <gtest/gtest.h>

#include <cmath>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::runtime;

Tensor scalar_f(float v) {
  return make<float>(DataType::kFloat32, {}, {v});
}

TEST(QuantizeLinearTest, PerTensorRoundsHalfToEvenAndSaturates) {
  Tensor x = make<float>(DataType::kFloat32, {6}, {0, 1, 3, 5, 1000, -1000});
  Tensor zp = make<uint8_t>(DataType::kUInt8, {}, {10});
  auto out = test::run_op("QuantizeLinear", {}, {runtime(x), constant(scalar_f(2)), constant(zp)});
  // x / 2 = 0, 0.5, 1.5, 2.5 -> 0, 0, 2, 2 (half to even), then + 10, clamped to [0, 255].
  EXPECT_EQ(test::values<uint8_t>(out[0]), (std::vector<uint8_t>{10, 10, 12, 12, 255, 0}));
}

TEST(QuantizeLinearTest, DefaultOutputIsUint8AndOutputDtypeSelectsInt16) {
  Tensor x = make<float>(DataType::kFloat32, {2}, {-3, 300});
  auto u8 = test::run_op("QuantizeLinear", {}, {runtime(x), constant(scalar_f(1))});
  EXPECT_EQ(u8[0].dtype(), DataType::kUInt8);
  EXPECT_EQ(test::values<uint8_t>(u8[0]), (std::vector<uint8_t>{0, 255}));
  ir::Attributes a;
  a.set("output_dtype", int64_t{5});  // INT16
  auto i16 = test::run_op("QuantizeLinear", a, {runtime(x), constant(scalar_f(1))});
  EXPECT_EQ(i16[0].dtype(), DataType::kInt16);
  EXPECT_EQ(test::values<int16_t>(i16[0]), (std::vector<int16_t>{-3, 300}));
}

TEST(QuantizeLinearTest, PerAxis) {
  Tensor x = make<float>(DataType::kFloat32, {2, 2}, {2, 4, 2, 4});
  Tensor s = make<float>(DataType::kFloat32, {2}, {1, 2});
  Tensor zp = make<int8_t>(DataType::kInt8, {2}, {0, -1});
  ir::Attributes a;
  a.set("axis", int64_t{0});
  auto out = test::run_op("QuantizeLinear", a, {runtime(x), constant(s), constant(zp)});
  EXPECT_EQ(test::values<int8_t>(out[0]), (std::vector<int8_t>{2, 4, 0, 1}));
}

TEST(QuantizeLinearTest, BlockedWithRemainderBlock) {
  // Axis 1 of size 5 in blocks of 2: scales per row for columns {0,1}, {2,3}, {4}.
  Tensor x = make<float>(DataType::kFloat32, {1, 5}, {2, 2, 2, 2, 2});
  Tensor s = make<float>(DataType::kFloat32, {1, 3}, {1, 2, 0.5f});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("block_size", int64_t{2});
  a.set("output_dtype", int64_t{3});  // INT8
  auto out = test::run_op("QuantizeLinear", a, {runtime(x), constant(s)});
  EXPECT_EQ(test::values<int8_t>(out[0]), (std::vector<int8_t>{2, 2, 1, 1, 4}));
}

TEST(QuantizeLinearTest, Float8SaturatesOrNot) {
  Tensor x = make<float>(DataType::kFloat32, {2}, {1000, 1.0f});
  Tensor zp = make<uint8_t>(DataType::kFloat8E4M3, {}, {0});
  auto sat = test::run_op("QuantizeLinear", {}, {runtime(x), constant(scalar_f(1)), constant(zp)});
  EXPECT_EQ(sat[0].dtype(), DataType::kFloat8E4M3);
  EXPECT_EQ(static_cast<float>(test::values<Float8E4M3>(sat[0])[0]), 448.f);
  EXPECT_EQ(static_cast<float>(test::values<Float8E4M3>(sat[0])[1]), 1.f);
  ir::Attributes a;
  a.set("saturate", int64_t{0});
  auto nan = test::run_op("QuantizeLinear", a, {runtime(x), constant(scalar_f(1)), constant(zp)});
  EXPECT_TRUE(std::isnan(static_cast<float>(test::values<Float8E4M3>(nan[0])[0])));
}

TEST(QuantizeLinearTest, BadScaleShapeIsRejected) {
  Tensor x = make<float>(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor s = make<float>(DataType::kFloat32, {2}, {1, 2});
  EXPECT_THROW(test::run_op("QuantizeLinear", {}, {runtime(x), constant(s)}), Error);  // axis 1
}

TEST(DequantizeLinearTest, PerTensorAndPerAxis) {
  Tensor x = make<uint8_t>(DataType::kUInt8, {2, 2}, {0, 10, 128, 255});
  Tensor zp = make<uint8_t>(DataType::kUInt8, {}, {128});
  auto t =
      test::run_op("DequantizeLinear", {}, {runtime(x), constant(scalar_f(0.5f)), constant(zp)});
  EXPECT_EQ(t[0].dtype(), DataType::kFloat32);
  EXPECT_EQ(test::values<float>(t[0]), (std::vector<float>{-64, -59, 0, 63.5f}));
  Tensor s = make<float>(DataType::kFloat32, {2}, {1, 2});
  Tensor zps = make<uint8_t>(DataType::kUInt8, {2}, {0, 10});
  ir::Attributes a;
  a.set("axis", int64_t{0});
  auto p = test::run_op("DequantizeLinear", a, {runtime(x), constant(s), constant(zps)});
  EXPECT_EQ(test::values<float>(p[0]), (std::vector<float>{0, 10, 236, 490}));
}

TEST(DequantizeLinearTest, Int32AndHalfScale) {
  Tensor x = make<int32_t>(DataType::kInt32, {2}, {-4, 6});
  Tensor s = make<Half>(DataType::kFloat16, {}, {Half(0.25f)});
  auto out = test::run_op("DequantizeLinear", {}, {runtime(x), constant(s)});
  EXPECT_EQ(out[0].dtype(), DataType::kFloat16);
  auto v = test::values<Half>(out[0]);
  EXPECT_EQ(static_cast<float>(v[0]), -1.f);
  EXPECT_EQ(static_cast<float>(v[1]), 1.5f);
}

TEST(DequantizeLinearTest, BlockedAndFloat8) {
  Tensor x = make<int8_t>(DataType::kInt8, {3, 1}, {1, 1, 1});
  Tensor s = make<float>(DataType::kFloat32, {2, 1}, {2, 3});
  ir::Attributes a;
  a.set("axis", int64_t{0});
  a.set("block_size", int64_t{2});
  auto out = test::run_op("DequantizeLinear", a, {runtime(x), constant(s)});
  EXPECT_EQ(test::values<float>(out[0]), (std::vector<float>{2, 2, 3}));
  Tensor f8 = make<Float8E4M3>(DataType::kFloat8E4M3, {1}, {Float8E4M3(1.5f)});
  auto d = test::run_op("DequantizeLinear", {}, {runtime(f8), constant(scalar_f(2))});
  EXPECT_EQ(test::values<float>(d[0])[0], 3.f);
}

TEST(DequantizeLinearTest, ZeroPointTypeMustMatch) {
  Tensor x = make<uint8_t>(DataType::kUInt8, {1}, {1});
  Tensor zp = make<int8_t>(DataType::kInt8, {}, {0});
  EXPECT_THROW(
      test::run_op("DequantizeLinear", {}, {runtime(x), constant(scalar_f(1)), constant(zp)}),
      Error);
}

TEST(DynamicQuantizeLinearTest, RangeIncludesZero) {
  Tensor x = make<float>(DataType::kFloat32, {4}, {1, 2, 3, 51});
  auto out = test::run_op("DynamicQuantizeLinear", {}, {runtime(x)}, 3);
  // Range [0, 51]: scale 0.2, zero point 0; 1 / 0.2 = 5, 51 / 0.2 = 255.
  EXPECT_FLOAT_EQ(test::values<float>(out[1])[0], 0.2f);
  EXPECT_EQ(test::values<uint8_t>(out[2])[0], 0);
  EXPECT_EQ(test::values<uint8_t>(out[0]), (std::vector<uint8_t>{5, 10, 15, 255}));
  Tensor neg = make<float>(DataType::kFloat32, {2}, {-2.55f, 0});
  auto n = test::run_op("DynamicQuantizeLinear", {}, {runtime(neg)}, 3);
  // Range [-2.55, 0]: scale 0.01, zero point 255.
  EXPECT_EQ(test::values<uint8_t>(n[2])[0], 255);
  EXPECT_EQ(test::values<uint8_t>(n[0]), (std::vector<uint8_t>{0, 255}));
}

}  // namespace
}  // namespace kiln
