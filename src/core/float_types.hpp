// Reduced-precision float storage types (fp16, bf16, fp8 e4m3fn) with exact round-to-nearest-even
// conversion to and from float. Kernels templated on the element type compute in float.
#pragma once

#include <cstdint>
#include <cstring>

namespace kiln {

uint16_t float_to_half_bits(float f);
float half_bits_to_float(uint16_t h);
uint16_t float_to_bfloat16_bits(float f);
float bfloat16_bits_to_float(uint16_t b);
// E4M3FN (no infinities, one NaN pattern per sign). Out-of-range values saturate to +-448 when
// `saturate`, else become NaN, as ONNX Cast specifies.
uint8_t float_to_fp8e4m3_bits(float f, bool saturate = true);
float fp8e4m3_bits_to_float(uint8_t b);

struct Half {
  uint16_t bits = 0;
  Half() = default;
  explicit Half(float f) : bits(float_to_half_bits(f)) {}
  explicit operator float() const { return half_bits_to_float(bits); }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(float_to_bfloat16_bits(f)) {}
  explicit operator float() const { return bfloat16_bits_to_float(bits); }
};

struct Float8E4M3 {
  uint8_t bits = 0;
  Float8E4M3() = default;
  explicit Float8E4M3(float f) : bits(float_to_fp8e4m3_bits(f)) {}
  explicit operator float() const { return fp8e4m3_bits_to_float(bits); }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2 && sizeof(Float8E4M3) == 1);

}  // namespace kiln
