// Binary elementwise kernels: broadcasting, dtype coverage and integer edge semantics (truncating
// division, Mod's two sign rules, shifts past the width, wrapping overflow), mixed-type Pow.
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

Tensor bools(Shape shape, std::vector<uint8_t> v) {
  return make<uint8_t>(DataType::kBool, std::move(shape), std::move(v));
}

Tensor run2(const std::string& op, const Tensor& a, const Tensor& b, ir::Attributes attrs = {}) {
  return run_op(op, attrs, {runtime(a), runtime(b)})[0];
}

TEST(BinaryKernels, AddBroadcastsRowAgainstColumn) {
  Tensor a = make<float>(DataType::kFloat32, {2, 1}, {1, 2});
  Tensor b = make<float>(DataType::kFloat32, {3}, {10, 20, 30});
  Tensor y = run2("Add", a, b);
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  EXPECT_EQ(values<float>(y), std::vector<float>({11, 21, 31, 12, 22, 32}));
}

TEST(BinaryKernels, SubMulOnEveryIntegerWidthWrap) {
  EXPECT_EQ(values<int8_t>(run2("Add", make<int8_t>(DataType::kInt8, {2}, {127, -128}),
                                make<int8_t>(DataType::kInt8, {2}, {1, -1}))),
            std::vector<int8_t>({-128, 127}));
  EXPECT_EQ(values<uint16_t>(run2("Mul", make<uint16_t>(DataType::kUInt16, {1}, {65535}),
                                  make<uint16_t>(DataType::kUInt16, {1}, {65535}))),
            std::vector<uint16_t>({1}));
  EXPECT_EQ(values<int32_t>(run2(
                "Sub", make<int32_t>(DataType::kInt32, {1}, {std::numeric_limits<int32_t>::min()}),
                make<int32_t>(DataType::kInt32, {1}, {1}))),
            std::vector<int32_t>({std::numeric_limits<int32_t>::max()}));
  EXPECT_EQ(values<uint64_t>(run2("Sub", make<uint64_t>(DataType::kUInt64, {1}, {0}),
                                  make<uint64_t>(DataType::kUInt64, {1}, {1}))),
            std::vector<uint64_t>({std::numeric_limits<uint64_t>::max()}));
}

TEST(BinaryKernels, IntegerDivisionTruncatesTowardZeroAndNeverTraps) {
  Tensor a = make<int32_t>(DataType::kInt32, {6}, {7, -7, 7, -7, 5, INT32_MIN});
  Tensor b = make<int32_t>(DataType::kInt32, {6}, {2, 2, -2, -2, 0, -1});
  EXPECT_EQ(values<int32_t>(run2("Div", a, b)), std::vector<int32_t>({3, -3, -3, 3, 0, INT32_MIN}));
  Tensor ua = make<uint8_t>(DataType::kUInt8, {2}, {255, 9});
  Tensor ub = make<uint8_t>(DataType::kUInt8, {2}, {2, 0});
  EXPECT_EQ(values<uint8_t>(run2("Div", ua, ub)), std::vector<uint8_t>({127, 0}));
}

TEST(BinaryKernels, ModFollowsDivisorSignUnlessFmod) {
  Tensor a = make<int8_t>(DataType::kInt8, {6}, {-4, 7, 5, 4, -7, 8});
  Tensor b = make<int8_t>(DataType::kInt8, {6}, {2, -3, 8, -2, 3, 5});
  EXPECT_EQ(values<int8_t>(run2("Mod", a, b)), std::vector<int8_t>({0, -2, 5, 0, 2, 3}));
  ir::Attributes fmod;
  fmod.set("fmod", int64_t{1});
  EXPECT_EQ(values<int8_t>(run2("Mod", a, b, fmod)), std::vector<int8_t>({0, 1, 5, 0, -1, 3}));
  // Modulo by zero and INT_MIN % -1 give 0 rather than a trap.
  Tensor c = make<int64_t>(DataType::kInt64, {2}, {5, INT64_MIN});
  Tensor d = make<int64_t>(DataType::kInt64, {2}, {0, -1});
  EXPECT_EQ(values<int64_t>(run2("Mod", c, d)), std::vector<int64_t>({0, 0}));
}

TEST(BinaryKernels, FloatModEdgeCasesMatchNumpy) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor a = make<float>(DataType::kFloat32, {8}, {0.f, -0.f, -3.f, 3.f, 1.f, inf, 1.f, -5.5f});
  Tensor b = make<float>(DataType::kFloat32, {8}, {-2.f, 2.f, inf, inf, -inf, 2.f, 0.f, 2.f});
  auto y = values<float>(run2("Mod", a, b));
  EXPECT_EQ(y[0], 0.f);
  EXPECT_TRUE(std::signbit(y[0]));  // zero takes the divisor's sign
  EXPECT_FALSE(std::signbit(y[1]));
  EXPECT_EQ(y[2], inf);
  EXPECT_EQ(y[3], 3.f);
  EXPECT_EQ(y[4], -inf);
  EXPECT_TRUE(std::isnan(y[5]));
  EXPECT_TRUE(std::isnan(y[6]));
  EXPECT_EQ(y[7], 0.5f);
  ir::Attributes fmod;
  fmod.set("fmod", int64_t{1});
  EXPECT_EQ(values<float>(run2("Mod", a, b, fmod))[7], -1.5f);
}

TEST(BinaryKernels, BitShiftPastWidthAndSignedRightShift) {
  ir::Attributes left, right;
  left.set("direction", std::string("LEFT"));
  right.set("direction", std::string("RIGHT"));
  Tensor x = make<int8_t>(DataType::kInt8, {4}, {64, -8, -8, 1});
  Tensor s = make<int8_t>(DataType::kInt8, {4}, {1, 1, -1, 8});
  EXPECT_EQ(values<int8_t>(run2("BitShift", x, s, left)), std::vector<int8_t>({-128, -16, 0, 0}));
  EXPECT_EQ(values<int8_t>(run2("BitShift", x, s, right)), std::vector<int8_t>({32, -4, -1, 0}));
  Tensor u = make<uint64_t>(DataType::kUInt64, {3}, {16, 1, 5});
  Tensor us = make<uint64_t>(DataType::kUInt64, {1}, {2});
  EXPECT_EQ(values<uint64_t>(run2("BitShift", u, us, right)), std::vector<uint64_t>({4, 0, 1}));
  EXPECT_EQ(values<uint64_t>(run2("BitShift", u, us, left)), std::vector<uint64_t>({64, 4, 20}));
}

TEST(BinaryKernels, BitwiseAndLogicalOps) {
  Tensor a = make<uint8_t>(DataType::kUInt8, {2}, {0xF0, 0x0F});
  Tensor b = make<uint8_t>(DataType::kUInt8, {1}, {0x3C});
  EXPECT_EQ(values<uint8_t>(run2("BitwiseAnd", a, b)), std::vector<uint8_t>({0x30, 0x0C}));
  EXPECT_EQ(values<uint8_t>(run2("BitwiseOr", a, b)), std::vector<uint8_t>({0xFC, 0x3F}));
  EXPECT_EQ(values<uint8_t>(run2("BitwiseXor", a, b)), std::vector<uint8_t>({0xCC, 0x33}));
  Tensor p = bools({4}, {1, 1, 0, 0});
  Tensor q = bools({4}, {1, 0, 1, 0});
  EXPECT_EQ(values<bool>(run2("And", p, q)), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ(values<bool>(run2("Or", p, q)), std::vector<bool>({true, true, true, false}));
  EXPECT_EQ(values<bool>(run2("Xor", p, q)), std::vector<bool>({false, true, true, false}));
}

TEST(BinaryKernels, ComparisonsGiveBoolOnEveryType) {
  Tensor a = make<Half>(DataType::kFloat16, {3}, {Half(1.f), Half(2.f), Half(3.f)});
  Tensor b = make<Half>(DataType::kFloat16, {1}, {Half(2.f)});
  Tensor lt = run2("Less", a, b);
  EXPECT_EQ(lt.dtype(), DataType::kBool);
  EXPECT_EQ(values<bool>(lt), std::vector<bool>({true, false, false}));
  EXPECT_EQ(values<bool>(run2("GreaterOrEqual", a, b)), std::vector<bool>({false, true, true}));
  Tensor u = make<uint32_t>(DataType::kUInt32, {2}, {0, 4000000000u});
  Tensor v = make<uint32_t>(DataType::kUInt32, {2}, {1, 1});
  EXPECT_EQ(values<bool>(run2("Greater", u, v)), std::vector<bool>({false, true}));
  EXPECT_EQ(values<bool>(run2("LessOrEqual", u, v)), std::vector<bool>({true, false}));
  Tensor p = bools({2}, {1, 0});
  EXPECT_EQ(values<bool>(run2("Equal", p, p)), std::vector<bool>({true, true}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor f = make<float>(DataType::kFloat32, {2}, {nan, 1.f});
  EXPECT_EQ(values<bool>(run2("Equal", f, f)), std::vector<bool>({false, true}));
}

TEST(BinaryKernels, PowMixesBaseAndExponentTypes) {
  Tensor ib = make<int32_t>(DataType::kInt32, {3}, {1, 2, 3});
  Tensor fe = make<float>(DataType::kFloat32, {3}, {4, 5, 6});
  Tensor y = run2("Pow", ib, fe);
  EXPECT_EQ(y.dtype(), DataType::kInt32);
  EXPECT_EQ(values<int32_t>(y), std::vector<int32_t>({1, 32, 729}));
  Tensor lb = make<int64_t>(DataType::kInt64, {4}, {3, -2, 2, -1});
  Tensor le = make<int64_t>(DataType::kInt64, {4}, {39, 3, -1, -3});
  // 3^39 is exact in int64 (but not in double); negative exponents truncate.
  EXPECT_EQ(values<int64_t>(run2("Pow", lb, le)),
            std::vector<int64_t>({4052555153018976267LL, -8, 0, -1}));
  Tensor fb = make<float>(DataType::kFloat32, {2}, {2.f, 9.f});
  Tensor ue = make<uint64_t>(DataType::kUInt64, {2}, {10, 0});
  EXPECT_EQ(values<float>(run2("Pow", fb, ue)), std::vector<float>({1024.f, 1.f}));
  Tensor hb = make<BFloat16>(DataType::kBFloat16, {1}, {BFloat16(4.f)});
  Tensor he = make<float>(DataType::kFloat32, {1}, {0.5f});
  EXPECT_EQ(static_cast<float>(values<BFloat16>(run2("Pow", hb, he))[0]), 2.f);
}

TEST(BinaryKernels, DivOnReducedFloatRoundsOnce) {
  Tensor a = make<BFloat16>(DataType::kBFloat16, {1}, {BFloat16(1.f)});
  Tensor b = make<BFloat16>(DataType::kBFloat16, {1}, {BFloat16(3.f)});
  EXPECT_EQ(values<BFloat16>(run2("Div", a, b))[0].bits, BFloat16(1.f / 3.f).bits);
}

TEST(BinaryKernels, IncompatibleShapesFailNamingTheNode) {
  Tensor a = make<float>(DataType::kFloat32, {2}, {1, 2});
  Tensor b = make<float>(DataType::kFloat32, {3}, {1, 2, 3});
  try {
    run2("Add", a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_Add"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("broadcast"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
