// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool with channels_last=1 against the same
// layer in NCHW on the transposed input: random data over kernels, strides, pads, dilations,
// ceil mode and count_include_pad, float32 and float16; and the attribute's inference rules.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/channels_last_test_util.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::run_op;
using test::runtime;
using V = std::vector<int64_t>;

struct PoolCase {
  const char* label;
  Shape x;
  V kernel, strides, pads, dilations;
  bool ceil = false;
  bool include_pad = false;
};

const PoolCase kCases[] = {
    {"3x3 stride 2 pad 1 (ResNet)", {2, 8, 11, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
    {"2x2 stride 2", {1, 5, 8, 6}, {2, 2}, {2, 2}, {}, {}},
    {"ceil mode", {1, 3, 7, 7}, {2, 2}, {2, 2}, {}, {}, true},
    {"uneven pads, include pad", {2, 4, 6, 9}, {3, 2}, {1, 2}, {1, 0, 2, 1}, {}, false, true},
    {"dilation", {1, 6, 9, 9}, {2, 3}, {1, 1}, {0, 1, 0, 1}, {2, 2}},
    {"1-D", {2, 7, 10}, {3}, {2}, {1, 1}, {}},
};

ir::Attributes pool_attrs(const PoolCase& c) {
  ir::Attributes a;
  a.set("kernel_shape", c.kernel);
  if (!c.strides.empty()) a.set("strides", c.strides);
  if (!c.pads.empty()) a.set("pads", c.pads);
  if (!c.dilations.empty()) a.set("dilations", c.dilations);
  if (c.ceil) a.set("ceil_mode", int64_t{1});
  if (c.include_pad) a.set("count_include_pad", int64_t{1});
  return a;
}

double max_error(const std::vector<double>& got, const std::vector<double>& want) {
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err;
}

// Runs `op` in both layouts; returns the largest absolute difference (values are in [-1, 1)).
double compare_layouts(const std::string& op, const ir::Attributes& attrs, DataType dtype,
                       const Shape& xs, uint32_t seed) {
  Tensor x = test::random_tensor(dtype, xs, seed);
  Tensor want = run_op(op, attrs, {runtime(x)})[0];
  ir::Attributes last = attrs;
  last.set("channels_last", int64_t{1});
  Tensor got = run_op(op, last, {runtime(test::to_nhwc(x))})[0];
  EXPECT_EQ(got.shape(), ir::to_channels_last(want.shape())) << op;
  if (got.shape() != ir::to_channels_last(want.shape())) return 1e9;
  return max_error(test::as_doubles(test::to_nchw(got)), test::as_doubles(want));
}

TEST(PoolChannelsLast, WindowPoolsMatchNchw) {
  uint32_t seed = 1;
  for (const PoolCase& c : kCases) {
    for (const char* op : {"MaxPool", "AveragePool"}) {
      for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
        if (std::string(op) == "MaxPool" && c.include_pad) continue;
        double err = compare_layouts(op, pool_attrs(c), t, c.x, seed++);
        // Max picks an element: exact. Averages may round differently in FP16.
        double tol = std::string(op) == "MaxPool" ? 0 : (t == DataType::kFloat16 ? 1e-3 : 1e-6);
        EXPECT_LE(err, tol) << op << " " << c.label << " " << to_string(t);
      }
    }
  }
}

TEST(PoolChannelsLast, GlobalPoolsMatchNchw) {
  uint32_t seed = 50;
  for (const Shape& s : {Shape{2, 16, 7, 7}, Shape{3, 5, 4, 9}, Shape{1, 3, 1, 1}, Shape{2, 6, 11},
                         Shape{1, 4, 3, 2, 5}}) {
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
        double err = compare_layouts(op, {}, t, s, seed++);
        double tol =
            std::string(op) == "GlobalMaxPool" ? 0 : (t == DataType::kFloat16 ? 1e-3 : 1e-6);
        EXPECT_LE(err, tol) << op << " " << shape_to_string(s) << " " << to_string(t);
      }
    }
  }
}

TEST(PoolChannelsLast, InferenceRules) {
  Tensor x = test::random_tensor(DataType::kFloat32, {1, 6, 6, 3}, 1);
  ir::Attributes a;
  a.set("kernel_shape", V{2, 2});
  a.set("channels_last", int64_t{1});
  EXPECT_EQ(run_op("MaxPool", a, {runtime(x)})[0].shape(), (Shape{1, 5, 5, 3}));
  // Indices count NCHW positions: no channels-last MaxPool writes them.
  EXPECT_THROW(run_op("MaxPool", a, {runtime(x)}, 2), Error);
  ir::Attributes g;
  g.set("channels_last", int64_t{1});
  EXPECT_EQ(run_op("GlobalAveragePool", g, {runtime(x)})[0].shape(), (Shape{1, 1, 1, 3}));
  EXPECT_THROW(run_op("GlobalLpPool", g, {runtime(x)}), Error);
  EXPECT_THROW(run_op("LpPool", a, {runtime(x)}), Error);
  g.set("channels_last", int64_t{-1});
  EXPECT_THROW(run_op("GlobalMaxPool", g, {runtime(x)}), Error);
}

}  // namespace
}  // namespace kiln
