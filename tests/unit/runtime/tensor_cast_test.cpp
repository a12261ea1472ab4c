// Tensor::cast, the public dtype conversion: ONNX Cast rules (truncation, NaN and saturation,
// wrapping, rounding to nearest even, bool), a fresh buffer every time, and the same values a
// Cast layer computes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kiln/kiln.hpp"

namespace kiln {
namespace {

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

TEST(TensorCast, FloatToIntegerTruncatesAndSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor f = Tensor::from_vector(DataType::kFloat32, {6},
                                 std::vector<float>{1.9f, -1.9f, nan, 1e9f, -1e9f, 127.5f});
  EXPECT_EQ(values<int8_t>(f.cast(DataType::kInt8)),
            (std::vector<int8_t>{1, -1, 0, 127, -128, 127}));
  EXPECT_EQ(values<uint8_t>(f.cast(DataType::kUInt8)),
            (std::vector<uint8_t>{1, 0, 0, 255, 0, 127}));
}

TEST(TensorCast, IntegersWrapAndBoolIsNonzero) {
  Tensor i = Tensor::from_vector(DataType::kInt64, {4}, std::vector<int64_t>{300, -1, 0, 2});
  EXPECT_EQ(values<uint8_t>(i.cast(DataType::kUInt8)), (std::vector<uint8_t>{44, 255, 0, 2}));
  EXPECT_EQ(values<bool>(i.cast(DataType::kBool)), (std::vector<bool>{true, true, false, true}));
  Tensor b = Tensor::from_vector(DataType::kBool, {2}, std::vector<uint8_t>{1, 0});
  EXPECT_EQ(values<double>(b.cast(DataType::kFloat64)), (std::vector<double>{1.0, 0.0}));
}

TEST(TensorCast, NarrowingFloatsRoundToNearestEven) {
  // 1 + 2^-11 lies halfway between two fp16 values; it rounds to the even one, 1.0 (0x3C00).
  // 1 + 3 * 2^-11 rounds up to 1 + 2^-9 (0x3C02).
  Tensor d = Tensor::from_vector(
      DataType::kFloat64, {2},
      std::vector<double>{1.0 + std::ldexp(1.0, -11), 1.0 + 3 * std::ldexp(1.0, -11)});
  Tensor h = d.cast(DataType::kFloat16);
  ASSERT_EQ(h.dtype(), DataType::kFloat16);
  std::vector<uint16_t> bits(2);
  std::memcpy(bits.data(), h.raw(), 4);
  EXPECT_EQ(bits, (std::vector<uint16_t>{0x3C00, 0x3C02}));
  // And back: fp16 widens exactly.
  EXPECT_EQ(values<float>(h.cast(DataType::kFloat32)), (std::vector<float>{1.0f, 1.0f + 0x1p-9f}));
}

TEST(TensorCast, SameTypeIsACopyWithItsOwnBuffer) {
  Tensor a = Tensor::from_vector(DataType::kFloat32, {2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor b = a.cast(DataType::kFloat32);
  EXPECT_EQ(b.shape(), a.shape());
  EXPECT_NE(b.raw(), a.raw());
  b.data<float>()[0] = 9;
  EXPECT_EQ(a.data<float>()[0], 1);
  EXPECT_EQ(Tensor(DataType::kInt32, {0, 3}).cast(DataType::kFloat16).shape(), (Shape{0, 3}));
}

TEST(TensorCast, UndefinedTensorIsAnError) {
  try {
    Tensor().cast(DataType::kFloat32);
    FAIL() << "cast of an undefined tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(TensorCast, MatchesACastLayer) {
  Network net;
  net.add_input("x", DataType::kFloat32, {5});
  net.mark_output(net.add_layer("Cast", {"x"}, {{"to", std::string("int16")}}, "y")[0]);
  auto engine = build_engine(net, BuilderConfig{});
  Tensor x = Tensor::from_vector(DataType::kFloat32, {5},
                                 std::vector<float>{-2.5f, 0.5f, 40000.0f, -1e30f, 7.99f});
  Tensor by_layer = engine->create_execution_context()->execute({{"x", x}})[0];
  EXPECT_EQ(values<int16_t>(x.cast(DataType::kInt16)), values<int16_t>(by_layer));
}

}  // namespace
}  // namespace kiln
