// CumProd, Unique, Compress and ReverseSequence kernels on small tensors whose results are
// worked out by hand, including Unique's unsorted and per-axis forms.
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

TEST(CumProd, ExclusiveReverseAlongAxis) {
  Tensor x = make(DataType::kInt32, {2, 3}, std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values<int32_t>(run_op("CumProd", {}, {runtime(x), constant(i64({}, {1}))})[0]),
            (std::vector<int32_t>{1, 2, 6, 4, 20, 120}));
  ir::Attributes a;
  a.set("exclusive", int64_t{1});
  a.set("reverse", int64_t{1});
  EXPECT_EQ(values<int32_t>(run_op("CumProd", a, {runtime(x), constant(i64({}, {-1}))})[0]),
            (std::vector<int32_t>{6, 3, 1, 30, 6, 1}));
  EXPECT_EQ(values<int32_t>(run_op("CumProd", {}, {runtime(x), constant(i64({}, {0}))})[0]),
            (std::vector<int32_t>{1, 2, 3, 4, 10, 18}));
}

TEST(Unique, SortedFlattenedWithAllOutputs) {
  auto out = run_op("Unique", {}, {runtime(f32({2, 3}, {2, 1, 1, 3, 4, 3}))}, 4);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{2, 1, 2, 1}));
}

TEST(Unique, UnsortedKeepsFirstOccurrenceOrder) {
  ir::Attributes a;
  a.set("sorted", int64_t{0});
  auto out = run_op("Unique", a, {runtime(i64({5}, {5, 2, 5, 9, 2}))}, 4);
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{5, 2, 9}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{0, 1, 0, 2, 1}));
  EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{2, 2, 1}));
}

TEST(Unique, SlicesAlongAxisSortLexicographically) {
  ir::Attributes a;
  a.set("axis", int64_t{1});
  // Columns: (1,4) (0,5) (1,4) (0,2).
  auto out = run_op("Unique", a, {runtime(f32({2, 4}, {1, 0, 1, 0, 4, 5, 4, 2}))}, 4);
  ASSERT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{0, 0, 1, 2, 5, 4}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{3, 1, 0}));
  EXPECT_EQ(values<int64_t>(out[2]), (std::vector<int64_t>{2, 1, 2, 0}));
  EXPECT_EQ(values<int64_t>(out[3]), (std::vector<int64_t>{1, 1, 2}));
}

TEST(Compress, SelectsAlongAxisOrFlattened) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor cond = make(DataType::kBool, {3}, std::vector<uint8_t>{1, 0, 1});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  Tensor y = run_op("Compress", a, {runtime(x), runtime(cond)})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 3, 4, 6}));
  // Without an axis the input is flattened; a short condition drops the rest.
  Tensor flat = run_op("Compress", {}, {runtime(x), runtime(cond)})[0];
  EXPECT_EQ(values<float>(flat), (std::vector<float>{1, 3}));
  Tensor too_long = make(DataType::kBool, {3}, std::vector<uint8_t>{1, 1, 1});
  a.set("axis", int64_t{0});
  EXPECT_THROW(run_op("Compress", a, {runtime(x), runtime(too_long)}), Error);
}

TEST(ReverseSequence, ReversesEachBatchPrefix) {
  // time_axis 0, batch_axis 1: x[t][b].
  Tensor x = f32({3, 2}, {1, 10, 2, 20, 3, 30});
  Tensor y = run_op("ReverseSequence", {}, {runtime(x), runtime(i64({2}, {3, 2}))})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{3, 20, 2, 10, 1, 30}));
  ir::Attributes a;
  a.set("batch_axis", int64_t{0});
  a.set("time_axis", int64_t{1});
  Tensor yb = run_op("ReverseSequence", a,
                     {runtime(f32({2, 3}, {1, 2, 3, 4, 5, 6})), runtime(i64({2}, {1, 3}))})[0];
  EXPECT_EQ(values<float>(yb), (std::vector<float>{1, 2, 3, 6, 5, 4}));
  EXPECT_THROW(run_op("ReverseSequence", {}, {runtime(x), runtime(i64({2}, {4, 1}))}), Error);
}

}  // namespace
}  // namespace kiln
