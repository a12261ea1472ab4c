// Reduce* ops on the CPU backend: axes handling, keepdims, noop_with_empty_axes, empty-set
// identities, and integer/bool/half types.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::runtime;

Tensor axes(std::vector<int64_t> a) {
  auto n = static_cast<int64_t>(a.size());
  return make<int64_t>(DataType::kInt64, {n}, a);
}

ir::Attributes keep(int64_t k) {
  ir::Attributes a;
  a.set("keepdims", k);
  return a;
}

// [[1, 2, 3], [4, 5, 6]]
Tensor m23() {
  return make<float>(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
}

std::vector<float> reduce(const std::string& op, std::vector<int64_t> ax, int64_t keepdims,
                          Shape want_shape) {
  auto out = test::run_op(op, keep(keepdims), {runtime(m23()), constant(axes(ax))});
  EXPECT_EQ(out[0].shape(), want_shape) << op;
  return test::values<float>(out[0]);
}

TEST(ReduceTest, EachOpOverAxis1) {
  EXPECT_EQ(reduce("ReduceSum", {1}, 0, {2}), (std::vector<float>{6, 15}));
  EXPECT_EQ(reduce("ReduceMean", {1}, 0, {2}), (std::vector<float>{2, 5}));
  EXPECT_EQ(reduce("ReduceMax", {1}, 0, {2}), (std::vector<float>{3, 6}));
  EXPECT_EQ(reduce("ReduceMin", {1}, 0, {2}), (std::vector<float>{1, 4}));
  EXPECT_EQ(reduce("ReduceProd", {1}, 0, {2}), (std::vector<float>{6, 120}));
  EXPECT_EQ(reduce("ReduceL1", {1}, 0, {2}), (std::vector<float>{6, 15}));
  EXPECT_EQ(reduce("ReduceSumSquare", {1}, 0, {2}), (std::vector<float>{14, 77}));
  auto l2 = reduce("ReduceL2", {1}, 0, {2});
  EXPECT_FLOAT_EQ(l2[0], std::sqrt(14.f));
  EXPECT_FLOAT_EQ(l2[1], std::sqrt(77.f));
  auto ls = reduce("ReduceLogSum", {1}, 0, {2});
  EXPECT_FLOAT_EQ(ls[1], std::log(15.f));
  auto lse = reduce("ReduceLogSumExp", {1}, 0, {2});
  EXPECT_NEAR(lse[0], std::log(std::exp(1.) + std::exp(2.) + std::exp(3.)), 1e-6);
}

TEST(ReduceTest, KeepdimsAndNegativeAxes) {
  EXPECT_EQ(reduce("ReduceSum", {-2}, 1, {1, 3}), (std::vector<float>{5, 7, 9}));
}

TEST(ReduceTest, OmittedAxesReduceEverything) {
  auto out = test::run_op("ReduceSum", keep(0), {runtime(m23())});
  EXPECT_EQ(out[0].shape(), Shape{});
  EXPECT_EQ(test::values<float>(out[0]), std::vector<float>{21});
}

TEST(ReduceTest, EmptyAxesWithNoopIsIdentity) {
  ir::Attributes a = keep(1);
  a.set("noop_with_empty_axes", int64_t{1});
  auto out = test::run_op("ReduceSum", a, {runtime(m23()), constant(axes({}))});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(test::values<float>(out[0]), test::values<float>(m23()));
}

TEST(ReduceTest, EmptySetGivesTheIdentity) {
  Tensor x(DataType::kFloat32, {2, 0, 4});
  auto run = [&](const std::string& op) {
    auto out = test::run_op(op, keep(1), {runtime(x), constant(axes({1}))});
    EXPECT_EQ(out[0].shape(), (Shape{2, 1, 4})) << op;
    return test::values<float>(out[0])[0];
  };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(run("ReduceSum"), 0);
  EXPECT_EQ(run("ReduceSumSquare"), 0);
  EXPECT_EQ(run("ReduceL1"), 0);
  EXPECT_EQ(run("ReduceL2"), 0);
  EXPECT_EQ(run("ReduceProd"), 1);
  EXPECT_EQ(run("ReduceMax"), -inf);
  EXPECT_EQ(run("ReduceMin"), inf);
  EXPECT_EQ(run("ReduceLogSum"), -inf);
  EXPECT_EQ(run("ReduceLogSumExp"), -inf);
}

TEST(ReduceTest, IntegerTypesStayExact) {
  Tensor x = make<int64_t>(DataType::kInt64, {2}, {(int64_t{1} << 60) + 1, 1});
  auto out = test::run_op("ReduceSum", keep(0), {runtime(x)});
  EXPECT_EQ(test::values<int64_t>(out[0])[0], (int64_t{1} << 60) + 2);
  Tensor y = make<int32_t>(DataType::kInt32, {3}, {-7, 2, 1});
  EXPECT_EQ(test::values<int32_t>(test::run_op("ReduceMean", keep(0), {runtime(y)})[0])[0], -1);
  EXPECT_EQ(test::values<int32_t>(test::run_op("ReduceL1", keep(0), {runtime(y)})[0])[0], 10);
  EXPECT_EQ(test::values<int32_t>(test::run_op("ReduceMin", keep(0), {runtime(y)})[0])[0], -7);
}

TEST(ReduceTest, BoolMaxMin) {
  Tensor x = make<uint8_t>(DataType::kBool, {2, 2}, {1, 0, 0, 0});
  auto mx = test::run_op("ReduceMax", keep(0), {runtime(x), constant(axes({1}))});
  EXPECT_EQ(test::values<uint8_t>(mx[0]), (std::vector<uint8_t>{1, 0}));
  auto mn = test::run_op("ReduceMin", keep(0), {runtime(x), constant(axes({1}))});
  EXPECT_EQ(test::values<uint8_t>(mn[0]), (std::vector<uint8_t>{0, 0}));
  EXPECT_THROW(test::run_op("ReduceSum", keep(0), {runtime(x)}), Error);
}

TEST(ReduceTest, HalfAccumulatesInWidePrecision) {
  // 2048 + 1 + 1 is not representable step by step in fp16 (2049 rounds to 2048).
  std::vector<Half> v{Half(2048.f), Half(1.f), Half(1.f)};
  Tensor x = make<Half>(DataType::kFloat16, {3}, v);
  auto out = test::run_op("ReduceSum", keep(0), {runtime(x)});
  EXPECT_EQ(static_cast<float>(test::values<Half>(out[0])[0]), 2050.f);
}

TEST(ReduceTest, MaxPropagatesNan) {
  Tensor x = make<float>(DataType::kFloat32, {3}, {1, std::nanf(""), 3});
  auto out = test::run_op("ReduceMax", keep(0), {runtime(x)});
  EXPECT_TRUE(std::isnan(test::values<float>(out[0])[0]));
}

TEST(ReduceTest, RepeatedOrOutOfRangeAxesAreRejected) {
  EXPECT_THROW(test::run_op("ReduceSum", keep(1), {runtime(m23()), constant(axes({1, -1}))}),
               Error);
  EXPECT_THROW(test::run_op("ReduceSum", keep(1), {runtime(m23()), constant(axes({2}))}), Error);
}

TEST(ReduceTest, AxesGivenAtRunTime) {
  auto out = test::run_op("ReduceMax", keep(0), {runtime(m23()), runtime(axes({0}))});
  EXPECT_EQ(out[0].shape(), Shape{3});
  EXPECT_EQ(test::values<float>(out[0]), (std::vector<float>{4, 5, 6}));
}

}  // namespace
}  // namespace kiln
