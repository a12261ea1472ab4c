// Bit-exact conversions between float and the reduced-precision storage types.
#include "core/float_types.hpp"

#include <bit>
#include <cmath>

namespace kiln {

uint16_t float_to_half_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {  // subnormal half (or zero): value / 2^-24, rounded to nearest even
    float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // exact in float
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t mant_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return static_cast<uint16_t>(sign | (abs >> 13));
}

float half_bits_to_float(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;  // 2^-24
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_bfloat16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

float bfloat16_bits_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

uint8_t float_to_fp8e4m3_bits(float f, bool saturate) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint8_t sign = static_cast<uint8_t>((x >> 24) & 0x80u);
  if (std::isnan(f)) return static_cast<uint8_t>(sign | 0x7f);
  float a = std::fabs(f);
  if (std::isinf(f))
    return saturate ? static_cast<uint8_t>(sign | 0x7e) : static_cast<uint8_t>(sign | 0x7f);
  // Largest finite is 448 (0x7e); values that round above it saturate or become NaN.
  if (a > 464.0f)
    return saturate ? static_cast<uint8_t>(sign | 0x7e) : static_cast<uint8_t>(sign | 0x7f);
  if (a < 0.015625f) {  // subnormal range: multiples of 2^-9
    float q = std::nearbyint(a * 512.0f);
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(q));  // q == 8 is the smallest normal
  }
  int e;
  float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  // Normal: a = (1 + k/8) * 2^(E-7); mantissa steps are 2^(e-4).
  float step = std::ldexp(1.0f, e - 4);
  float q = std::nearbyint(a / step) * step;
  (void)m;
  int e2;
  float m2 = std::frexp(q, &e2);
  uint32_t exp_field = static_cast<uint32_t>(e2 - 1 + 7);
  uint32_t mant_field = static_cast<uint32_t>(std::nearbyint((m2 * 2.0f - 1.0f) * 8.0f));
  uint32_t bits = (exp_field << 3) | mant_field;
  if (bits > 0x7e)
    return saturate ? static_cast<uint8_t>(sign | 0x7e) : static_cast<uint8_t>(sign | 0x7f);
  return static_cast<uint8_t>(sign | bits);
}

float fp8e4m3_bits_to_float(uint8_t b) {
  bool neg = (b & 0x80u) != 0;
  uint32_t exp = (b >> 3) & 0xfu;
  uint32_t mant = b & 0x7u;
  float v;
  if (exp == 15 && mant == 7) {
    v = std::nanf("");
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -9);
  } else {
    v = std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, static_cast<int>(exp) - 7);
  }
  return neg ? -v : v;
}

}  // namespace kiln
