// Resize on the CPU backend: one case per mode, coordinate transformation and nearest mode,
// checked against values of the ONNX reference implementation (onnx.reference op_resize).
#include <gtest/gtest.h>

#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::omitted;
using test::runtime;

// The input of every case: one row [1, 2, 4, 8] as a [1, 1, 1, 4] image.
Tensor row() {
  return make<float>(DataType::kFloat32, {1, 1, 1, 4}, {1, 2, 4, 8});
}

Tensor scales(float s) {
  return make<float>(DataType::kFloat32, {4}, {1, 1, 1, s});
}
Tensor sizes(int64_t n) {
  return make<int64_t>(DataType::kInt64, {4}, {1, 1, 1, n});
}

ir::Attributes attrs(const std::string& mode, const std::string& coord,
                     const std::string& nearest = "round_prefer_floor") {
  ir::Attributes a;
  a.set("mode", mode);
  a.set("coordinate_transformation_mode", coord);
  a.set("nearest_mode", nearest);
  return a;
}

void expect_row(const Tensor& t, const std::vector<float>& want) {
  ASSERT_EQ(t.shape(), (Shape{1, 1, 1, static_cast<int64_t>(want.size())}));
  auto got = test::values<float>(t);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "at " << i;
}

std::vector<Tensor> resize_scales(const ir::Attributes& a, float s) {
  return test::run_op("Resize", a, {runtime(row()), omitted(), constant(scales(s))});
}

std::vector<Tensor> resize_sizes(const ir::Attributes& a, int64_t n) {
  return test::run_op("Resize", a, {runtime(row()), omitted(), omitted(), constant(sizes(n))});
}

TEST(ResizeTest, NearestHalfPixelRoundPreferFloor) {
  expect_row(resize_scales(attrs("nearest", "half_pixel"), 1.5f)[0], {1, 1, 2, 4, 4, 8});
}

TEST(ResizeTest, NearestRoundPreferCeil) {
  expect_row(resize_scales(attrs("nearest", "half_pixel", "round_prefer_ceil"), 2)[0],
             {1, 1, 2, 2, 4, 4, 8, 8});
}

TEST(ResizeTest, NearestAsymmetricFloor) {
  expect_row(resize_scales(attrs("nearest", "asymmetric", "floor"), 1.5f)[0], {1, 1, 2, 4, 4, 8});
}

TEST(ResizeTest, NearestAlignCornersCeil) {
  expect_row(resize_sizes(attrs("nearest", "align_corners", "ceil"), 6)[0], {1, 2, 4, 4, 8, 8});
}

TEST(ResizeTest, NearestTfHalfPixelForNearest) {
  // x = (y + 0.5) / 2: 0.25, 0.75, 1.25, ... rounds to 0, 1, 1, 2, 2, 3, 3, 4->3.
  expect_row(resize_scales(attrs("nearest", "tf_half_pixel_for_nearest"), 2)[0],
             {1, 2, 2, 4, 4, 8, 8, 8});
}

TEST(ResizeTest, LinearHalfPixel) {
  expect_row(resize_scales(attrs("linear", "half_pixel"), 2)[0],
             {1, 1.25f, 1.75f, 2.5f, 3.5f, 5, 7, 8});
}

TEST(ResizeTest, LinearAsymmetric) {
  expect_row(resize_scales(attrs("linear", "asymmetric"), 2)[0], {1, 1.5f, 2, 3, 4, 6, 8, 8});
}

TEST(ResizeTest, LinearAlignCorners) {
  expect_row(resize_sizes(attrs("linear", "align_corners"), 7)[0], {1, 1.5f, 2, 3, 4, 6, 8});
}

TEST(ResizeTest, LinearPytorchHalfPixelToOnePixel) {
  // One output pixel samples x = -0.5, which clamps to the first input.
  expect_row(resize_sizes(attrs("linear", "pytorch_half_pixel"), 1)[0], {1});
}

TEST(ResizeTest, LinearHalfPixelSymmetric) {
  expect_row(resize_scales(attrs("linear", "half_pixel_symmetric"), 0.6f)[0],
             {1.666667f, 5.333333f});
}

TEST(ResizeTest, LinearTfCropAndResizeExtrapolates) {
  ir::Attributes a = attrs("linear", "tf_crop_and_resize");
  a.set("extrapolation_value", -1.0f);
  Tensor roi = make<float>(DataType::kFloat32, {8}, {0, 0, 0, 0.5f, 1, 1, 1, 1.5f});
  auto out =
      test::run_op("Resize", a, {runtime(row()), constant(roi), omitted(), constant(sizes(3))});
  expect_row(out[0], {3, 8, -1});
}

TEST(ResizeTest, CubicHalfPixel) {
  expect_row(resize_scales(attrs("cubic", "half_pixel"), 2)[0],
             {0.894531f, 1.15625f, 1.5625f, 2.417969f, 3.160156f, 5.117188f, 7.164062f, 8.421875f});
}

TEST(ResizeTest, CubicExcludeOutsideWithCoefficient) {
  ir::Attributes a = attrs("cubic", "half_pixel");
  a.set("cubic_coeff_a", -0.5f);
  a.set("exclude_outside", int64_t{1});
  expect_row(resize_scales(a, 2)[0], {0.911765f, 1.145985f, 1.641221f, 2.382812f, 3.335938f,
                                      5.022901f, 7.284671f, 8.352942f});
}

TEST(ResizeTest, AntialiasWidensTheFilterWhenDownsampling) {
  ir::Attributes a = attrs("linear", "half_pixel");
  a.set("antialias", int64_t{1});
  expect_row(resize_scales(a, 0.5f)[0], {1.75f, 5.75f});
  ir::Attributes c = attrs("cubic", "half_pixel");
  c.set("antialias", int64_t{1});
  expect_row(resize_scales(c, 0.5f)[0], {1.339844f, 5.949219f});
}

TEST(ResizeTest, AxesAndKeepAspectRatio) {
  // sizes for axes (3, 2) = (8, 8) on a [1, 1, 2, 4] image: not_larger keeps scale 2.
  Tensor x = make<float>(DataType::kFloat32, {1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  ir::Attributes a = attrs("nearest", "asymmetric", "floor");
  a.set("axes", std::vector<int64_t>{3, 2});
  a.set("keep_aspect_ratio_policy", std::string("not_larger"));
  Tensor sz = make<int64_t>(DataType::kInt64, {2}, {8, 8});
  auto out = test::run_op("Resize", a, {runtime(x), omitted(), omitted(), constant(sz)});
  ASSERT_EQ(out[0].shape(), (Shape{1, 1, 4, 8}));
  auto v = test::values<float>(out[0]);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[1], 1);
  EXPECT_EQ(v[2], 2);
  EXPECT_EQ(v[8], 1);   // row 1 still copies input row 0
  EXPECT_EQ(v[16], 5);  // row 2 copies input row 1
}

TEST(ResizeTest, IntegerInputRoundsHalfToEven) {
  Tensor x = make<uint8_t>(DataType::kUInt8, {1, 2}, {1, 2});
  Tensor s = make<float>(DataType::kFloat32, {2}, {1, 2});
  auto out =
      test::run_op("Resize", attrs("linear", "asymmetric"), {runtime(x), omitted(), constant(s)});
  // 1, 1.5 -> 2 (half to even), 2, 2.
  EXPECT_EQ(test::values<uint8_t>(out[0]), (std::vector<uint8_t>{1, 2, 2, 2}));
}

TEST(ResizeTest, ScalesAndSizesTogetherAreRejected) {
  EXPECT_THROW(test::run_op("Resize", attrs("nearest", "asymmetric"),
                            {runtime(row()), omitted(), constant(scales(2)), constant(sizes(8))}),
               Error);
}

TEST(ResizeTest, UnknownModeIsRejected) {
  EXPECT_THROW(resize_scales(attrs("bicubic", "half_pixel"), 2), Error);
}

TEST(UpsampleTest, NearestRepeatsWithIntegerScales) {
  Tensor x = make<float>(DataType::kFloat32, {1, 2}, {1, 2});
  Tensor s = make<float>(DataType::kFloat32, {2}, {2, 3});
  ir::Attributes a;
  a.set("mode", std::string("nearest"));
  auto out = test::run_op("Upsample", a, {runtime(x), constant(s)});
  ASSERT_EQ(out[0].shape(), (Shape{2, 6}));
  EXPECT_EQ(test::values<float>(out[0]), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
}

}  // namespace
}  // namespace kiln
