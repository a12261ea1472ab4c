// CUDA Resize and Upsample against the CPU reference: every mode, coordinate transformation and
// nearest mode, exclude_outside, crop extrapolation, antialiasing, N-d resizes, sizes with
// keep_aspect_ratio_policy, and float/integer types.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kFloatTypes[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16};

GpuInput omitted() {
  GpuInput in;
  in.omitted = true;
  return in;
}

GpuInput scales(std::vector<double> v) {
  auto n = static_cast<int64_t>(v.size());  // before v is moved from
  return constant(DT::kFloat32, {n}, std::move(v));
}

GpuInput sizes(std::vector<double> v) {
  auto n = static_cast<int64_t>(v.size());  // before v is moved from
  return constant(DT::kInt64, {n}, std::move(v));
}

GpuCase resize(DT t, Shape in, std::vector<GpuInput> rest, ir::Attributes a) {
  std::vector<GpuInput> inputs{input(t, std::move(in), -9, 9)};
  for (GpuInput& r : rest) inputs.push_back(std::move(r));
  GpuCase c = make_case("Resize", std::move(inputs), std::move(a));
  for (const auto& [k, v] : c.attrs.all()) {
    if (const auto* s = std::get_if<std::string>(&v)) c.name += " " + k + "=" + *s;
  }
  return c;
}

const GpuCaseTable kLinearEveryCoordinateModeCases("ResizeGpu.LinearEveryCoordinateMode", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloatTypes) {
    for (const char* m : {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                          "align_corners", "asymmetric", "tf_half_pixel_for_nearest"}) {
      ir::Attributes a = attrs(
          {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string(m)}});
      // Bilinear upsampling x2 (deeplabv3/fcn), a non-integer scale, and a downsample by sizes.
      cases.push_back(resize(t, {1, 3, 5, 7}, {omitted(), scales({1, 1, 2, 2})}, a));
      cases.push_back(resize(t, {2, 2, 6, 9}, {omitted(), scales({1, 1, 1.7, 0.6})}, a));
      cases.push_back(resize(t, {1, 2, 9, 8}, {omitted(), omitted(), sizes({1, 2, 4, 3})}, a));
    }
    // N-d: three resized axes, and a 1-D resize of the innermost axis only.
    cases.push_back(resize(t, {2, 3, 4, 5}, {omitted(), scales({1, 1.5, 2, 0.8})},
                           attrs({{"mode", std::string("linear")}})));
    cases.push_back(
        resize(t, {3, 11}, {omitted(), scales({1, 3})}, attrs({{"mode", std::string("linear")}})));
    // exclude_outside, and the axes attribute with keep_aspect_ratio_policy.
    cases.push_back(
        resize(t, {1, 1, 6, 6}, {omitted(), scales({1, 1, 0.7, 1.3})},
               attrs({{"mode", std::string("linear")}, {"exclude_outside", int64_t{1}}})));
    cases.push_back(resize(t, {1, 2, 6, 10}, {omitted(), omitted(), sizes({8, 8})},
                           attrs({{"mode", std::string("linear")},
                                  {"axes", std::vector<int64_t>{2, 3}},
                                  {"keep_aspect_ratio_policy", std::string("not_larger")}})));
  }
  return cases;
});

TEST(ResizeGpu, LinearEveryCoordinateMode) {
  run_table(kLinearEveryCoordinateModeCases);
}

const GpuCaseTable kNearestEveryRoundingCases("ResizeGpu.NearestEveryRounding", [] {
  std::vector<GpuCase> cases;
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kInt64, DT::kUInt8}) {
    for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      for (const char* m : {"half_pixel", "asymmetric", "align_corners"}) {
        ir::Attributes a = attrs({{"mode", std::string("nearest")},
                                  {"nearest_mode", std::string(nm)},
                                  {"coordinate_transformation_mode", std::string(m)}});
        cases.push_back(resize(t, {1, 2, 5, 6}, {omitted(), scales({1, 1, 2.5, 0.5})}, a));
        cases.push_back(resize(t, {2, 7, 3}, {omitted(), omitted(), sizes({2, 4, 8})}, a));
      }
    }
    // Integer upsampling x2 as the default opset-11 nearest exports do.
    cases.push_back(resize(t, {1, 3, 4, 4}, {omitted(), scales({1, 1, 2, 2})}, {}));
  }
  return cases;
});

TEST(ResizeGpu, NearestEveryRounding) {
  run_table(kNearestEveryRoundingCases);
}

const GpuCaseTable kCubicCropAntialiasAndIntegersCases(
    "ResizeGpu.CubicCropAntialiasAndIntegers", [] {
      std::vector<GpuCase> cases;
      for (DT t : kFloatTypes) {
        cases.push_back(resize(t, {1, 2, 5, 6}, {omitted(), scales({1, 1, 2, 1.5})},
                               attrs({{"mode", std::string("cubic")}})));
        cases.push_back(resize(t, {1, 2, 7, 6}, {omitted(), scales({1, 1, 0.6, 1.5})},
                               attrs({{"mode", std::string("cubic")},
                                      {"cubic_coeff_a", -0.5f},
                                      {"exclude_outside", int64_t{1}}})));
        // Crops reaching outside the input take extrapolation_value.
        cases.push_back(
            resize(t, {1, 1, 6, 8},
                   {constant(DT::kFloat32, {8}, {0, 0, -0.2, 0.3, 1, 1, 0.9, 1.4}), omitted(),
                    sizes({1, 1, 5, 7})},
                   attrs({{"mode", std::string("linear")},
                          {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                          {"extrapolation_value", 2.5f}})));
        cases.push_back(
            resize(t, {1, 1, 6, 8},
                   {constant(DT::kFloat32, {8}, {0, 0, 0.1, -0.3, 1, 1, 0.8, 0.6}), omitted(),
                    sizes({1, 1, 4, 9})},
                   attrs({{"mode", std::string("nearest")},
                          {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                          {"extrapolation_value", -1.0f}})));
        for (const char* mode : {"linear", "cubic"}) {
          cases.push_back(resize(t, {1, 2, 16, 12}, {omitted(), scales({1, 1, 0.3, 0.5})},
                                 attrs({{"mode", std::string(mode)}, {"antialias", int64_t{1}}})));
        }
      }
      // Integers interpolate in double, round half to even and saturate.
      for (DT t : {DT::kUInt8, DT::kInt32, DT::kInt64}) {
        cases.push_back(resize(t, {1, 2, 4, 5}, {omitted(), scales({1, 1, 2, 2})},
                               attrs({{"mode", std::string("linear")}})));
        cases.push_back(resize(t, {1, 2, 4, 5}, {omitted(), scales({1, 1, 1.5, 2})},
                               attrs({{"mode", std::string("cubic")}})));
      }
      // Empty output axis, and an unchanged shape.
      cases.push_back(resize(DT::kFloat32, {2, 0, 4}, {omitted(), scales({1, 1, 2})},
                             attrs({{"mode", std::string("linear")}})));
      cases.push_back(resize(DT::kFloat32, {2, 3, 4}, {omitted(), scales({1, 1, 1})},
                             attrs({{"mode", std::string("linear")}})));
      return cases;
    });

TEST(ResizeGpu, CubicCropAntialiasAndIntegers) {
  run_table(kCubicCropAntialiasAndIntegersCases);
}

const GpuCaseTable kUpsampleCases("ResizeGpu.Upsample", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloatTypes) {
    for (const char* mode : {"nearest", "linear"}) {
      cases.push_back(make_case("Upsample", {input(t, {1, 2, 3, 5}, -9, 9), scales({1, 1, 2, 3})},
                                attrs({{"mode", std::string(mode)}})));
    }
  }
  return cases;
});

TEST(ResizeGpu, Upsample) {
  run_table(kUpsampleCases);
}

}  // namespace
}  // namespace kiln::test
