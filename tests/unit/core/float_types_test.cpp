// Round-trip and rounding of the reduced-precision float conversions.
#include "core/float_types.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace kiln {
namespace {

TEST(FloatTypes, HalfRoundTripsEveryFiniteBitPattern) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    auto h = static_cast<uint16_t>(b);
    float f = half_bits_to_float(h);
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_half_bits(f), h) << "bits " << b;
  }
}

TEST(FloatTypes, HalfRoundsToNearestEven) {
  // 1 + 2^-11 lies exactly between 1 and the next half (1 + 2^-10): ties go to even (1).
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7bff);
  EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(std::nanf("")))));
}

TEST(FloatTypes, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16_bits(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(float_to_bfloat16_bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_FLOAT_EQ(bfloat16_bits_to_float(0xc000), -2.0f);
}

TEST(FloatTypes, Fp8E4M3RoundTripsAndSaturates) {
  for (uint32_t b = 0; b < 0x100; ++b) {
    auto v = static_cast<uint8_t>(b);
    float f = fp8e4m3_bits_to_float(v);
    if (std::isnan(f)) continue;
    if (f == 0.0f && (v & 0x80)) continue;  // -0 keeps its sign bit; compared below
    EXPECT_EQ(float_to_fp8e4m3_bits(f), v) << "bits " << b << " value " << f;
  }
  EXPECT_EQ(fp8e4m3_bits_to_float(0x7e), 448.0f);
  EXPECT_EQ(float_to_fp8e4m3_bits(1000.0f), 0x7e);
  EXPECT_EQ(float_to_fp8e4m3_bits(1000.0f, /*saturate=*/false), 0x7f);
  EXPECT_EQ(float_to_fp8e4m3_bits(-std::numeric_limits<float>::infinity()), 0xfe);
  EXPECT_EQ(fp8e4m3_bits_to_float(0x01), std::ldexp(1.0f, -9));
}

}  // namespace
}  // namespace kiln
