// Cast and CastLike: every pair of kiln types round-trips small integers, and the ONNX edge
// rules hold (float->int truncation, NaN, saturation, float->bool, integer wrap, fp8 saturate,
// double->fp16 rounded once).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;
using test::run_op;
using test::runtime;
using test::values;

Tensor cast(const Tensor& x, DataType to, int64_t saturate = 1) {
  ir::Attributes a;
  a.set("to", std::string(to_string(to)));
  a.set("saturate", saturate);
  return run_op("Cast", a, {runtime(x)})[0];
}

const DataType kAllTypes[] = {DataType::kFloat32,    DataType::kFloat16, DataType::kBFloat16,
                              DataType::kFloat8E4M3, DataType::kFloat64, DataType::kInt8,
                              DataType::kUInt8,      DataType::kInt16,   DataType::kUInt16,
                              DataType::kInt32,      DataType::kUInt32,  DataType::kInt64,
                              DataType::kUInt64,     DataType::kBool};

// A tensor of `t` holding 0 and 1 (representable in every type).
Tensor zero_one(DataType t) {
  Tensor out(t, {2});
  cpu::visit_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      out.data<bool>()[1] = true;
    } else if constexpr (cpu::is_reduced_float_v<T>) {
      out.data<T>()[0] = T(0.f);
      out.data<T>()[1] = T(1.f);
    } else {
      out.data<T>()[1] = T(1);
    }
  });
  return out;
}

TEST(CastKernel, EveryPairCarriesZeroAndOne) {
  for (DataType from : kAllTypes) {
    for (DataType to : kAllTypes) {
      Tensor y = cast(zero_one(from), to);
      ASSERT_EQ(y.dtype(), to);
      Tensor want = zero_one(to);
      EXPECT_EQ(std::vector<uint8_t>(static_cast<const uint8_t*>(y.raw()),
                                     static_cast<const uint8_t*>(y.raw()) + y.nbytes()),
                std::vector<uint8_t>(static_cast<const uint8_t*>(want.raw()),
                                     static_cast<const uint8_t*>(want.raw()) + want.nbytes()))
          << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST(CastKernel, FloatToIntTruncatesAndSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make<float>(DataType::kFloat32, {6}, {2.9f, -2.9f, 300.f, -300.f, nan, 1e20f});
  EXPECT_EQ(values<int8_t>(cast(x, DataType::kInt8)),
            std::vector<int8_t>({2, -2, 127, -128, 0, 127}));
  EXPECT_EQ(values<int64_t>(cast(x, DataType::kInt64)),
            std::vector<int64_t>({2, -2, 300, -300, 0, std::numeric_limits<int64_t>::max()}));
  EXPECT_EQ(values<uint8_t>(cast(x, DataType::kUInt8)),
            std::vector<uint8_t>({2, 0, 255, 0, 0, 255}));
}

TEST(CastKernel, ToBoolIsNonzero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make<float>(DataType::kFloat32, {4}, {0.f, -0.f, 0.1f, nan});
  EXPECT_EQ(values<bool>(cast(x, DataType::kBool)), std::vector<bool>({false, false, true, true}));
  Tensor i = make<int32_t>(DataType::kInt32, {2}, {256, 0});
  EXPECT_EQ(values<bool>(cast(i, DataType::kBool)), std::vector<bool>({true, false}));
}

TEST(CastKernel, IntegerNarrowingWraps) {
  Tensor x = make<int16_t>(DataType::kInt16, {3}, {200, -1, 256});
  EXPECT_EQ(values<int8_t>(cast(x, DataType::kInt8)), std::vector<int8_t>({-56, -1, 0}));
  EXPECT_EQ(values<uint16_t>(cast(x, DataType::kUInt16)), std::vector<uint16_t>({200, 65535, 256}));
  Tensor u = make<uint64_t>(DataType::kUInt64, {1}, {std::numeric_limits<uint64_t>::max()});
  EXPECT_EQ(values<int64_t>(cast(u, DataType::kInt64)), std::vector<int64_t>({-1}));
  EXPECT_EQ(values<float>(cast(u, DataType::kFloat32)), std::vector<float>({1.8446744e19f}));
}

TEST(CastKernel, DoubleToHalfRoundsOnce) {
  // 1 + 2^-11 + 2^-40 is just above the midpoint of two halves, so it rounds up; going through
  // float first would land exactly on the midpoint and round down to 1.
  double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor x = make<double>(DataType::kFloat64, {1}, {d});
  EXPECT_EQ(values<Half>(cast(x, DataType::kFloat16))[0].bits, 0x3c01);
  // Same for bf16 (8 significant bits): 1 + 2^-8 + 2^-40.
  double e = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  Tensor y = make<double>(DataType::kFloat64, {1}, {e});
  EXPECT_EQ(values<BFloat16>(cast(y, DataType::kBFloat16))[0].bits, 0x3f81);
  Tensor big = make<double>(DataType::kFloat64, {2}, {1e6, -1e300});
  auto h = values<Half>(cast(big, DataType::kFloat16));
  EXPECT_TRUE(std::isinf(static_cast<float>(h[0])));
  EXPECT_TRUE(std::isinf(static_cast<float>(h[1])));
}

TEST(CastKernel, Fp8SaturatesUnlessAskedNotTo) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = make<float>(DataType::kFloat32, {4}, {1000.f, -inf, 1.f, -0.f});
  auto sat = values<uint8_t>(cast(x, DataType::kFloat8E4M3, 1));
  EXPECT_EQ(sat, std::vector<uint8_t>({0x7e, 0xfe, 0x38, 0x80}));  // +-448, 1, -0
  auto raw = values<uint8_t>(cast(x, DataType::kFloat8E4M3, 0));
  EXPECT_EQ(raw[0] & 0x7f, 0x7f);  // NaN
  EXPECT_EQ(raw[1] & 0x7f, 0x7f);
  EXPECT_EQ(raw[2], 0x38);
  Tensor back = cast(make<uint8_t>(DataType::kFloat8E4M3, {2}, {0x7e, 0x7f}), DataType::kFloat32);
  EXPECT_EQ(values<float>(back)[0], 448.f);
  EXPECT_TRUE(std::isnan(values<float>(back)[1]));
}

TEST(CastKernel, CastLikeTakesTheSecondInputsType) {
  Tensor x = make<float>(DataType::kFloat32, {2}, {1.5f, -7.f});
  Tensor like = make<int32_t>(DataType::kInt32, {0}, {});
  Tensor y = run_op("CastLike", {}, {runtime(x), runtime(like)})[0];
  EXPECT_EQ(y.dtype(), DataType::kInt32);
  EXPECT_EQ(values<int32_t>(y), std::vector<int32_t>({1, -7}));
}

TEST(CastKernel, RefusesUnknownTargetNames) {
  ir::Attributes a;
  a.set("to", std::string("int4"));
  Tensor x = make<float>(DataType::kFloat32, {1}, {1});
  EXPECT_THROW(run_op("Cast", a, {runtime(x)}), Error);
  ir::Attributes code;
  code.set("to", int64_t{1});  // an ONNX type code: the importer's job to translate
  EXPECT_THROW(run_op("Cast", code, {runtime(x)}), Error);
}

}  // namespace
}  // namespace kiln
