// Error metrics of `kiln compare`: tolerances (absolute or relative, with the floor near zero),
// NaN/Inf handling, cosine similarity, dtype/shape mismatches and where the worst element is.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "compare_metrics.hpp"

namespace kiln::test {
namespace {

using tools::compare_tensors;
using tools::Tolerance;

Tensor floats(Shape shape, std::vector<float> v) {
  return Tensor::from_vector(DataType::kFloat32, std::move(shape), v);
}

TEST(CompareMetrics, IdenticalTensorsHaveNoError) {
  Tensor a = floats({2, 2}, {1, -2, 3, 0});
  auto c = compare_tensors("y", a, a, Tolerance{0, 0});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.max_abs, 0);
  EXPECT_EQ(c.max_rel, 0);
  EXPECT_EQ(c.failing, 0);
  EXPECT_DOUBLE_EQ(c.cosine, 1);
  EXPECT_EQ(c.elements, 4);
}

TEST(CompareMetrics, AnElementPassesWithinAbsoluteOrRelativeTolerance) {
  Tensor ref = floats({3}, {1000, 0, 1});
  // 0.5 off 1000 is 5e-4 relative; 5e-4 off 0 is within atol; 0.01 off 1 is neither.
  Tensor got = floats({3}, {1000.5f, 5e-4f, 1.01f});
  auto c = compare_tensors("y", got, ref, Tolerance{1e-3, 1e-3});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.failing, 1);
  EXPECT_NEAR(c.max_abs, 0.5, 1e-9);
  EXPECT_EQ(c.worst_index, 0);  // the largest absolute error, though it passes
  // Near zero the relative error divides by atol, not by |ref|: 5e-4 / 1e-3.
  EXPECT_NEAR(c.max_rel, 0.5, 1e-3);
  EXPECT_NEAR(c.mean_abs, (0.5 + 5e-4 + 0.01) / 3, 1e-6);

  auto loose = compare_tensors("y", got, ref, Tolerance{1e-3, 2e-2});
  EXPECT_TRUE(loose.passed);
}

TEST(CompareMetrics, RelativeFloorIsAtolOrTinyWhenAtolIsZero) {
  EXPECT_EQ(tools::relative_error_floor(Tolerance{1e-5, 1e-3}), 1e-5);
  EXPECT_EQ(tools::relative_error_floor(Tolerance{0, 1e-3}), 1e-12);
}

TEST(CompareMetrics, NanMatchesNanAndInfOnlyTheSameInf) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  Tensor ref = floats({4}, {nan, inf, 1, 2});
  EXPECT_TRUE(compare_tensors("y", floats({4}, {nan, inf, 1, 2}), ref, Tolerance{}).passed);

  auto c = compare_tensors("y", floats({4}, {nan, -inf, 1, nan}), ref, Tolerance{});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.nonfinite_mismatch, 2);
  EXPECT_EQ(c.failing, 2);
  EXPECT_EQ(c.worst_index, 1);  // the first mismatch
  EXPECT_EQ(c.worst_value, -inf);
  EXPECT_TRUE(std::isinf(c.rel_l2));
}

TEST(CompareMetrics, CosineAndRelativeL2) {
  Tensor ref = floats({2}, {3, 4});
  auto c = compare_tensors("y", floats({2}, {6, 8}), ref, Tolerance{});
  EXPECT_NEAR(c.cosine, 1, 1e-12);  // same direction, twice as long
  EXPECT_NEAR(c.rel_l2, 1, 1e-12);  // ||(3,4)|| / ||(3,4)||
  auto d = compare_tensors("y", floats({2}, {4, -3}), ref, Tolerance{});
  EXPECT_NEAR(d.cosine, 0, 1e-12);
  auto zero = compare_tensors("y", floats({2}, {0, 0}), ref, Tolerance{});
  EXPECT_EQ(zero.cosine, 0);
}

TEST(CompareMetrics, DtypeOrShapeMismatchIsAFailureSayingWhich) {
  Tensor ref = floats({2, 2}, {1, 2, 3, 4});
  auto shape = compare_tensors("y", floats({4}, {1, 2, 3, 4}), ref, Tolerance{});
  EXPECT_FALSE(shape.passed);
  EXPECT_EQ(shape.problem, "shape [4] but the reference has [2,2]");
  Tensor ints = Tensor::from_vector(DataType::kInt64, {2, 2}, std::vector<int64_t>{1, 2, 3, 4});
  auto dtype = compare_tensors("y", ints, ref, Tolerance{});
  EXPECT_FALSE(dtype.passed);
  EXPECT_EQ(dtype.problem, "dtype int64 but the reference is float32");
}

TEST(CompareMetrics, IntegerAndHalfTensorsCompareByValue) {
  Tensor a = Tensor::from_vector(DataType::kInt64, {3}, std::vector<int64_t>{1, 5, 9});
  Tensor b = Tensor::from_vector(DataType::kInt64, {3}, std::vector<int64_t>{1, 6, 9});
  auto c = compare_tensors("ids", a, b, Tolerance{0, 0});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.max_abs, 1);
  EXPECT_EQ(c.worst_index, 1);
}

TEST(CompareMetrics, IndexNamesEveryDimension) {
  EXPECT_EQ(tools::index_to_string(0, {2, 3}), "[0,0]");
  EXPECT_EQ(tools::index_to_string(5, {2, 3}), "[1,2]");
  EXPECT_EQ(tools::index_to_string(7, {2, 2, 2}), "[1,1,1]");
  EXPECT_EQ(tools::index_to_string(0, {}), "[]");
}

TEST(CompareMetrics, DefaultTolerancesFollowPrecision) {
  EXPECT_EQ(tools::default_tolerance(Precision::kFloat32).atol, 1e-5);
  EXPECT_EQ(tools::default_tolerance(Precision::kTf32).rtol, 1e-3);
  EXPECT_EQ(tools::default_tolerance(Precision::kFloat16).atol, 1e-2);
  EXPECT_EQ(tools::default_tolerance(Precision::kBFloat16).rtol, 5e-2);
}

}  // namespace
}  // namespace kiln::test
