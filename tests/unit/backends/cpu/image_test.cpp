// RoiAlign, GridSample, AffineGrid, Col2Im, MaxUnpool and CenterCropPad kernels on small inputs
// whose results follow from the op definitions: identity grids, constant images, hand-placed
// blocks.
#include <gtest/gtest.h>

#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::run_op;
using test::runtime;
using test::values;

Tensor f32(Shape s, std::vector<float> v) {
  return make(DataType::kFloat32, std::move(s), std::move(v));
}
Tensor i64(Shape s, std::vector<int64_t> v) {
  return make(DataType::kInt64, std::move(s), std::move(v));
}

// A 4x4 image whose value is its x coordinate: bilinear samples return their x.
Tensor ramp() {
  std::vector<float> v;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) v.push_back(static_cast<float>(x));
  return f32({1, 1, 4, 4}, v);
}

TEST(RoiAlign, AverageOfBilinearSamplesInBothCoordinateModes) {
  ir::Attributes a;
  a.set("output_height", int64_t{1});
  a.set("output_width", int64_t{2});
  a.set("sampling_ratio", int64_t{1});
  // Box x in [0, 2]: with half_pixel the samples sit at x = -0.5 + 0.5 and 0.5 + 0.5.
  Tensor y =
      run_op("RoiAlign", a,
             {runtime(ramp()), runtime(f32({1, 4}, {0, 0, 2, 2})), runtime(i64({1}, {0}))})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_NEAR(y.data<float>()[0], 0.0, 1e-6);
  EXPECT_NEAR(y.data<float>()[1], 1.0, 1e-6);
  a.set("coordinate_transformation_mode", std::string("output_half_pixel"));
  y = run_op("RoiAlign", a,
             {runtime(ramp()), runtime(f32({1, 4}, {0, 0, 2, 2})), runtime(i64({1}, {0}))})[0];
  EXPECT_NEAR(y.data<float>()[0], 0.5, 1e-6);
  EXPECT_NEAR(y.data<float>()[1], 1.5, 1e-6);
}

TEST(RoiAlign, BatchIndexOutsideTheBatchFails) {
  EXPECT_THROW(
      run_op("RoiAlign", {},
             {runtime(ramp()), runtime(f32({1, 4}, {0, 0, 2, 2})), runtime(i64({1}, {3}))}),
      Error);
}

TEST(GridSample, IdentityGridReproducesTheImage) {
  // With align_corners the grid -1, -1/3, 1/3, 1 hits the pixel centers exactly.
  std::vector<float> grid;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      grid.push_back(-1 + 2.0f * static_cast<float>(x) / 3);
      grid.push_back(-1 + 2.0f * static_cast<float>(y) / 3);
    }
  std::vector<float> img;
  for (int i = 0; i < 16; ++i) img.push_back(static_cast<float>(i * i % 7));
  for (const char* mode : {"linear", "nearest", "cubic"}) {
    ir::Attributes a;
    a.set("align_corners", int64_t{1});
    a.set("mode", std::string(mode));
    Tensor y = run_op("GridSample", a,
                      {runtime(f32({1, 1, 4, 4}, img)), runtime(f32({1, 4, 4, 2}, grid))})[0];
    for (size_t i = 0; i < 16; ++i)
      EXPECT_NEAR(y.data<float>()[i], img[i], 1e-5) << mode << " " << i;
  }
}

TEST(GridSample, PaddingModesOutsideTheImage) {
  // Sample x = 2.0 (normalized), far right of a 1x2 image [1, 3].
  Tensor x = f32({1, 1, 1, 2}, {1, 3});
  Tensor grid = f32({1, 1, 1, 2}, {2.0f, 0.0f});
  auto sample = [&](const char* padding) {
    ir::Attributes a;
    a.set("padding_mode", std::string(padding));
    a.set("align_corners", int64_t{1});
    return run_op("GridSample", a, {runtime(x), runtime(grid)})[0].data<float>()[0];
  };
  // Denormalized x = (2 + 1) / 2 * (2 - 1) = 1.5: half on pixel 1, half on the zero pad.
  EXPECT_NEAR(sample("zeros"), 1.5f, 1e-6);
  EXPECT_EQ(sample("border"), 3.0f);  // clamped to 1
  // Reflected about 1 to 0.5.
  EXPECT_NEAR(sample("reflection"), 2.0f, 1e-6);
}

TEST(GridSample, VolumetricLinear) {
  // A 2x2x2 volume with value z*4 + y*2 + x sampled at its center is the mean, 3.5.
  std::vector<float> vol{0, 1, 2, 3, 4, 5, 6, 7};
  Tensor y =
      run_op("GridSample", {},
             {runtime(f32({1, 1, 2, 2, 2}, vol)), runtime(f32({1, 1, 1, 1, 3}, {0, 0, 0}))})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 1, 1}));
  EXPECT_NEAR(y.data<float>()[0], 3.5, 1e-6);
}

TEST(AffineGrid, IdentityThetaGivesTheBaseGrid) {
  ir::Attributes a;
  a.set("align_corners", int64_t{1});
  Tensor g =
      run_op("AffineGrid", a,
             {runtime(f32({1, 2, 3}, {1, 0, 0, 0, 1, 0})), constant(i64({4}, {1, 1, 2, 3}))})[0];
  ASSERT_EQ(g.shape(), (Shape{1, 2, 3, 2}));
  EXPECT_EQ(values<float>(g), (std::vector<float>{-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1}));
  // Without align_corners the grid lists pixel centers; a shift moves every point.
  Tensor s =
      run_op("AffineGrid", {},
             {runtime(f32({1, 2, 3}, {1, 0, 0.5f, 0, 1, 0})), constant(i64({4}, {1, 1, 1, 2}))})[0];
  EXPECT_EQ(values<float>(s), (std::vector<float>{0.0f, 0, 1.0f, 0}));
}

TEST(Col2Im, SumsOverlappingBlocks) {
  // A 1x3 image from 2 blocks of width 2 with stride 1: the middle pixel gets two values.
  ir::Attributes a;
  Tensor y = run_op("Col2Im", a,
                    {runtime(f32({1, 2, 2}, {1, 2, 10, 20})), constant(i64({2}, {1, 3})),
                     constant(i64({2}, {1, 2}))})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 12, 20}));
}

TEST(MaxUnpool, ScattersToIndicesAndPadsToOutputShape) {
  ir::Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{2, 2});
  a.set("strides", std::vector<int64_t>{2, 2});
  Tensor x = f32({1, 1, 1, 1}, {7});
  Tensor y = run_op("MaxUnpool", a, {runtime(x), runtime(i64({1, 1, 1, 1}, {3}))})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 0, 0, 7}));
  Tensor big =
      run_op("MaxUnpool", a,
             {runtime(x), runtime(i64({1, 1, 1, 1}, {3})), constant(i64({4}, {1, 1, 3, 3}))})[0];
  EXPECT_EQ(values<float>(big), (std::vector<float>{0, 0, 0, 0, 7, 0, 0, 0, 0}));
  EXPECT_THROW(run_op("MaxUnpool", a, {runtime(x), runtime(i64({1, 1, 1, 1}, {4}))}), Error);
}

TEST(CenterCropPad, CropsAndPadsAroundTheCenter) {
  ir::Attributes a;
  a.set("axes", std::vector<int64_t>{-1});
  Tensor x = make(DataType::kInt32, {1, 5}, std::vector<int32_t>{1, 2, 3, 4, 5});
  EXPECT_EQ(values<int32_t>(run_op("CenterCropPad", a, {runtime(x), constant(i64({1}, {2}))})[0]),
            (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(values<int32_t>(run_op("CenterCropPad", a, {runtime(x), constant(i64({1}, {8}))})[0]),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 0, 0}));
}

}  // namespace
}  // namespace kiln
