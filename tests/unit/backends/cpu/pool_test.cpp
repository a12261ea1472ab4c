// Pooling kernels on small hand-computed cases: ceil mode, pads, dilations, Indices with both
// storage orders, count_include_pad, LpPool and the global pools.
#include <gtest/gtest.h>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;
using test::run_op;
using test::runtime;
using test::values;

// 1x1x3x3 input 1..9.
Tensor grid() {
  return make<float>(DataType::kFloat32, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}

ir::Attributes window(std::vector<int64_t> k, std::vector<int64_t> s = {},
                      std::vector<int64_t> pads = {}) {
  ir::Attributes a;
  a.set("kernel_shape", k);
  if (!s.empty()) a.set("strides", s);
  if (!pads.empty()) a.set("pads", pads);
  return a;
}

TEST(MaxPool, CeilModeAddsAPartialWindow) {
  ir::Attributes a = window({2, 2}, {2, 2});
  EXPECT_EQ(values<float>(run_op("MaxPool", a, {runtime(grid())})[0]), (std::vector<float>{5}));
  a.set("ceil_mode", int64_t{1});
  Tensor y = run_op("MaxPool", a, {runtime(grid())})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{5, 6, 8, 9}));
}

TEST(MaxPool, IndicesInBothStorageOrders) {
  ir::Attributes a = window({2, 2});
  auto out = run_op("MaxPool", a, {runtime(grid())}, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{5, 6, 8, 9}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{4, 5, 7, 8}));
  a.set("storage_order", int64_t{1});
  out = run_op("MaxPool", a, {runtime(grid())}, 2);
  // Column-major: element (h, w) has index h + w * 3.
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{4, 7, 5, 8}));
}

TEST(MaxPool, IndicesIncludeTheBatchAndChannelOffset) {
  std::vector<float> v(18);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 9);
  Tensor x = make(DataType::kFloat32, {1, 2, 3, 3}, v);
  auto out = run_op("MaxPool", window({3, 3}), {runtime(x)}, 2);
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{8, 17}));
}

TEST(MaxPool, DilationAndPadsAndUint8) {
  Tensor x = make<uint8_t>(DataType::kUInt8, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  ir::Attributes a = window({2, 2}, {}, {1, 1, 1, 1});
  a.set("dilations", std::vector<int64_t>{2, 2});
  // Padded 5x5, dilated kernel extent 3: 3x3 outputs; each sees the in-bounds taps only.
  Tensor y = run_op("MaxPool", a, {runtime(x)})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{5, 6, 5, 8, 9, 8, 5, 6, 5}));
}

TEST(AveragePool, CountIncludePad) {
  ir::Attributes a = window({2, 2}, {}, {1, 1, 0, 0});
  Tensor y = run_op("AveragePool", a, {runtime(grid())})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  // Top-left window holds only element 1.
  EXPECT_FLOAT_EQ(y.data<float>()[0], 1.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[4], 3.0f);  // (1 + 2 + 4 + 5) / 4
  a.set("count_include_pad", int64_t{1});
  y = run_op("AveragePool", a, {runtime(grid())})[0];
  EXPECT_FLOAT_EQ(y.data<float>()[0], 0.25f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 0.75f);  // (1 + 2) / 4
}

TEST(AveragePool, SameUpperPadsAtTheEnd) {
  ir::Attributes a = window({2, 2});
  a.set("auto_pad", std::string("SAME_UPPER"));
  Tensor y = run_op("AveragePool", a, {runtime(grid())})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{3, 4, 4.5, 6, 7, 7.5, 7.5, 8.5, 9}));
}

TEST(LpPool, TwoNormOfEachWindow) {
  Tensor x = make<float>(DataType::kFloat32, {1, 1, 4}, {3, -4, 0, 5});
  ir::Attributes a = window({2}, {2});
  EXPECT_EQ(values<float>(run_op("LpPool", a, {runtime(x)})[0]), (std::vector<float>{5, 5}));
  a.set("p", int64_t{1});
  EXPECT_EQ(values<float>(run_op("LpPool", a, {runtime(x)})[0]), (std::vector<float>{7, 5}));
}

TEST(GlobalPools, ReduceEverySpatialAxis) {
  Tensor x = make<float>(DataType::kFloat32, {1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -8});
  Tensor avg = run_op("GlobalAveragePool", {}, {runtime(x)})[0];
  EXPECT_EQ(avg.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values<float>(avg), (std::vector<float>{2.5, -3.5}));
  EXPECT_EQ(values<float>(run_op("GlobalMaxPool", {}, {runtime(x)})[0]),
            (std::vector<float>{4, -1}));
  Tensor d = make<double>(DataType::kFloat64, {1, 1, 2}, {3, 4});
  EXPECT_EQ(values<double>(run_op("GlobalLpPool", {}, {runtime(d)})[0]), (std::vector<double>{5}));
}

TEST(MaxPool, KernelLargerThanPaddedInputIsAClearError) {
  try {
    run_op("MaxPool", window({4, 4}), {runtime(grid())});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
