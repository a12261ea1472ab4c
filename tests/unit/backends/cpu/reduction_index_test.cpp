// ArgMax/ArgMin, TopK, CumSum and NonMaxSuppression on the CPU backend.
#include <gtest/gtest.h>

#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::omitted;
using test::runtime;

TEST(ArgMaxTest, AxisKeepdimsAndLastIndex) {
  Tensor x = make<float>(DataType::kFloat32, {2, 3}, {1, 5, 5, 7, 2, 7});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("keepdims", int64_t{0});
  auto first = test::run_op("ArgMax", a, {runtime(x)});
  EXPECT_EQ(first[0].shape(), Shape{2});
  EXPECT_EQ(test::values<int64_t>(first[0]), (std::vector<int64_t>{1, 0}));
  a.set("select_last_index", int64_t{1});
  auto last = test::run_op("ArgMax", a, {runtime(x)});
  EXPECT_EQ(test::values<int64_t>(last[0]), (std::vector<int64_t>{2, 2}));
}

TEST(ArgMinTest, DefaultAxisKeepsDims) {
  Tensor x = make<int32_t>(DataType::kInt32, {2, 2}, {3, -1, 2, 4});
  auto out = test::run_op("ArgMin", {}, {runtime(x)});
  EXPECT_EQ(out[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(test::values<int64_t>(out[0]), (std::vector<int64_t>{1, 0}));
}

TEST(TopKTest, LargestWithTiesByLowerIndex) {
  Tensor x = make<float>(DataType::kFloat32, {2, 4}, {1, 3, 3, 2, 9, 8, 9, 0});
  Tensor k = make<int64_t>(DataType::kInt64, {1}, {2});
  auto out = test::run_op("TopK", {}, {runtime(x), constant(k)}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(test::values<float>(out[0]), (std::vector<float>{3, 3, 9, 9}));
  EXPECT_EQ(test::values<int64_t>(out[1]), (std::vector<int64_t>{1, 2, 0, 2}));
}

TEST(TopKTest, SmallestAlongAxis0) {
  Tensor x = make<int64_t>(DataType::kInt64, {3, 2}, {5, 1, 4, 2, 6, 0});
  Tensor k = make<int64_t>(DataType::kInt64, {1}, {1});
  ir::Attributes a;
  a.set("axis", int64_t{0});
  a.set("largest", int64_t{0});
  auto out = test::run_op("TopK", a, {runtime(x), runtime(k)}, 2);
  EXPECT_EQ(out[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(test::values<int64_t>(out[0]), (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(test::values<int64_t>(out[1]), (std::vector<int64_t>{1, 2}));
}

TEST(TopKTest, KLargerThanAxisIsRejected) {
  Tensor x = make<float>(DataType::kFloat32, {3}, {1, 2, 3});
  Tensor k = make<int64_t>(DataType::kInt64, {1}, {4});
  EXPECT_THROW(test::run_op("TopK", {}, {runtime(x), constant(k)}, 2), Error);
}

TEST(CumSumTest, ExclusiveReverseAndNegativeAxis) {
  Tensor x = make<float>(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axis = make<int32_t>(DataType::kInt32, {}, {-1});
  auto plain = test::run_op("CumSum", {}, {runtime(x), constant(axis)});
  EXPECT_EQ(test::values<float>(plain[0]), (std::vector<float>{1, 3, 6, 4, 9, 15}));
  ir::Attributes a;
  a.set("exclusive", int64_t{1});
  a.set("reverse", int64_t{1});
  auto both = test::run_op("CumSum", a, {runtime(x), constant(axis)});
  EXPECT_EQ(test::values<float>(both[0]), (std::vector<float>{5, 3, 0, 11, 6, 0}));
  Tensor axis0 = make<int64_t>(DataType::kInt64, {}, {0});
  auto down = test::run_op("CumSum", {}, {runtime(x), constant(axis0)});
  EXPECT_EQ(test::values<float>(down[0]), (std::vector<float>{1, 2, 3, 5, 7, 9}));
}

// Boxes [y1, x1, y2, x2]: 0 and 1 overlap heavily, 2 is apart.
Tensor three_boxes() {
  return make<float>(DataType::kFloat32, {1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 10, 1, 11});
}

TEST(NonMaxSuppressionTest, SuppressesOverlapsPerClass) {
  Tensor scores = make<float>(DataType::kFloat32, {1, 2, 3}, {0.9f, 0.8f, 0.7f, 0.1f, 0.6f, 0.2f});
  Tensor max_out = make<int64_t>(DataType::kInt64, {1}, {3});
  Tensor iou = make<float>(DataType::kFloat32, {1}, {0.5f});
  auto out =
      test::run_op("NonMaxSuppression", {},
                   {runtime(three_boxes()), runtime(scores), constant(max_out), constant(iou)});
  ASSERT_EQ(out[0].shape(), (Shape{4, 3}));
  EXPECT_EQ(test::values<int64_t>(out[0]),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 2, 0, 1, 1, 0, 1, 2}));
}

TEST(NonMaxSuppressionTest, ScoreThresholdLimitAndCenterFormat) {
  // The same boxes as [x_center, y_center, width, height].
  Tensor boxes = make<float>(DataType::kFloat32, {1, 3, 4},
                             {0.5f, 0.5f, 1, 1, 0.6f, 0.5f, 1, 1, 10.5f, 0.5f, 1, 1});
  Tensor scores = make<float>(DataType::kFloat32, {1, 1, 3}, {0.9f, 0.8f, 0.3f});
  Tensor max_out = make<int64_t>(DataType::kInt64, {1}, {5});
  Tensor iou = make<float>(DataType::kFloat32, {1}, {0.5f});
  Tensor thr = make<float>(DataType::kFloat32, {1}, {0.4f});
  ir::Attributes a;
  a.set("center_point_box", int64_t{1});
  auto out = test::run_op(
      "NonMaxSuppression", a,
      {runtime(boxes), runtime(scores), constant(max_out), constant(iou), constant(thr)});
  EXPECT_EQ(test::values<int64_t>(out[0]), (std::vector<int64_t>{0, 0, 0}));
  Tensor one = make<int64_t>(DataType::kInt64, {1}, {1});
  Tensor none = make<float>(DataType::kFloat32, {1}, {1.0f});
  auto limited = test::run_op("NonMaxSuppression", a,
                              {runtime(boxes), runtime(scores), constant(one), constant(none)});
  EXPECT_EQ(test::values<int64_t>(limited[0]), (std::vector<int64_t>{0, 0, 0}));
}

TEST(NonMaxSuppressionTest, NoMaxOutputSelectsNothing) {
  Tensor scores = make<float>(DataType::kFloat32, {1, 1, 3}, {0.9f, 0.8f, 0.7f});
  auto out = test::run_op("NonMaxSuppression", {}, {runtime(three_boxes()), runtime(scores)});
  EXPECT_EQ(out[0].shape(), (Shape{0, 3}));
}

TEST(NonMaxSuppressionTest, MismatchedBoxesAreRejected) {
  Tensor scores = make<float>(DataType::kFloat32, {1, 1, 2}, {0.9f, 0.8f});
  EXPECT_THROW(test::run_op("NonMaxSuppression", {}, {runtime(three_boxes()), runtime(scores)}),
               Error);
}

}  // namespace
}  // namespace kiln
