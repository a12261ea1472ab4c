// Normalization kernels against statistics computed here: BatchNormalization in inference and
// training mode, LayerNormalization with its Mean/InvStdDev outputs, InstanceNormalization,
// GroupNormalization with per-channel (opset 21) and per-group (opset 18) scales, LpNormalization.
#include <gtest/gtest.h>

#include <cmath>

#include "core/float_types.hpp"
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

// (x - mean) / sqrt(var + eps) over a group of values.
std::vector<double> standardize(const std::vector<double>& x, double eps) {
  double mean = 0, var = 0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (double v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  std::vector<double> r;
  for (double v : x) r.push_back((v - mean) / std::sqrt(var + eps));
  return r;
}

TEST(BatchNormalization, InferenceUsesTheGivenStatistics) {
  Tensor x = f32({1, 2, 2}, {1, 2, 3, 4});
  Tensor y = run_op("BatchNormalization", {},
                    {runtime(x), constant(f32({2}, {2, 1})), constant(f32({2}, {0, 10})),
                     constant(f32({2}, {1, 3})), constant(f32({2}, {4, 0.25f}))})[0];
  float eps = 1e-5f;
  std::vector<float> expected{2 * (1 - 1) / std::sqrt(4 + eps), 2 * (2 - 1) / std::sqrt(4 + eps),
                              (3 - 3) / std::sqrt(0.25f + eps) + 10,
                              (4 - 3) / std::sqrt(0.25f + eps) + 10};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<float>()[i], expected[i], 1e-5);
}

TEST(BatchNormalization, TrainingModeUpdatesRunningStatistics) {
  ir::Attributes a;
  a.set("training_mode", int64_t{1});
  a.set("momentum", 0.5f);
  // One channel, values 1..4: batch mean 2.5, population variance 1.25.
  auto out = run_op("BatchNormalization", a,
                    {runtime(f32({2, 1, 2}, {1, 2, 3, 4})), constant(f32({1}, {1})),
                     constant(f32({1}, {0})), constant(f32({1}, {0.5f})), constant(f32({1}, {2}))},
                    3);
  auto norm = standardize({1, 2, 3, 4}, 1e-5);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(out[0].data<float>()[i], norm[i], 1e-5);
  EXPECT_NEAR(out[1].data<float>()[0], 0.5 * 0.5 + 2.5 * 0.5, 1e-6);
  EXPECT_NEAR(out[2].data<float>()[0], 2 * 0.5 + 1.25 * 0.5, 1e-6);
}

TEST(LayerNormalization, NormalizesTrailingAxesAndReportsStatistics) {
  ir::Attributes a;
  a.set("axis", int64_t{1});
  std::vector<float> xv{1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};
  Tensor scale = f32({3}, {1, 2, -1});  // broadcast over the normalized [2, 3]
  Tensor bias = f32({1}, {0.5f});
  auto out = run_op("LayerNormalization", a,
                    {runtime(f32({2, 2, 3}, xv)), constant(scale), constant(bias)}, 3);
  ASSERT_EQ(out[1].shape(), (Shape{2, 1, 1}));
  for (int r = 0; r < 2; ++r) {
    std::vector<double> row(xv.begin() + r * 6, xv.begin() + r * 6 + 6);
    auto norm = standardize(row, 1e-5);
    double mean = 0;
    for (double v : row) mean += v / 6;
    EXPECT_NEAR(out[1].data<float>()[r], mean, 1e-4);
    for (int i = 0; i < 6; ++i) {
      float s = std::vector<float>{1, 2, -1}[static_cast<size_t>(i % 3)];
      EXPECT_NEAR(out[0].data<float>()[r * 6 + i], norm[static_cast<size_t>(i)] * s + 0.5, 1e-4);
    }
    // InvStdDev * (x - mean) is the normalized value.
    EXPECT_NEAR((row[0] - mean) * out[2].data<float>()[r], norm[0], 1e-4);
  }
}

TEST(InstanceNormalization, PerSampleAndChannel) {
  Tensor x = f32({1, 2, 3}, {1, 2, 3, 10, 10, 40});
  Tensor y = run_op("InstanceNormalization", {},
                    {runtime(x), constant(f32({2}, {1, 3})), constant(f32({2}, {0, 1}))})[0];
  auto a = standardize({1, 2, 3}, 1e-5), b = standardize({10, 10, 40}, 1e-5);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(y.data<float>()[i], a[i], 1e-5);
    EXPECT_NEAR(y.data<float>()[3 + i], 3 * b[i] + 1, 1e-4);
  }
}

TEST(GroupNormalization, PerChannelAndPerGroupScales) {
  // 4 channels, 2 groups, 2 values each: a group spans 2 channels x 2 values.
  std::vector<float> xv{1, 2, 3, 4, 10, 0, 5, 5};
  ir::Attributes a;
  a.set("num_groups", int64_t{2});
  Tensor y = run_op("GroupNormalization", a,
                    {runtime(f32({1, 4, 2}, xv)), constant(f32({4}, {1, 2, 3, 4})),
                     constant(f32({4}, {0, 0, 0, 1}))})[0];
  auto g0 = standardize({1, 2, 3, 4}, 1e-5), g1 = standardize({10, 0, 5, 5}, 1e-5);
  std::vector<double> expected{g0[0],     g0[1],     2 * g0[2],     2 * g0[3],
                               3 * g1[0], 3 * g1[1], 4 * g1[2] + 1, 4 * g1[3] + 1};
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(y.data<float>()[i], expected[i], 1e-4) << i;
  a.set("scale_per_group", int64_t{1});
  y = run_op(
      "GroupNormalization", a,
      {runtime(f32({1, 4, 2}, xv)), constant(f32({2}, {2, -1})), constant(f32({2}, {0, 1}))})[0];
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<float>()[i], 2 * g0[i], 1e-4);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<float>()[4 + i], 1 - g1[i], 1e-4);
}

TEST(LpNormalization, L1AndL2AlongAnAxis) {
  Tensor x = f32({2, 2}, {3, 4, -1, 1});
  ir::Attributes a;
  a.set("axis", int64_t{1});
  Tensor l2 = run_op("LpNormalization", a, {runtime(x)})[0];
  EXPECT_NEAR(l2.data<float>()[0], 0.6, 1e-6);
  EXPECT_NEAR(l2.data<float>()[1], 0.8, 1e-6);
  a.set("p", int64_t{1});
  a.set("axis", int64_t{0});
  Tensor l1 = run_op("LpNormalization", a, {runtime(x)})[0];
  EXPECT_EQ(values<float>(l1), (std::vector<float>{0.75f, 0.8f, -0.25f, 0.2f}));
}

TEST(BatchNormalization, WrongScaleLengthIsAClearError) {
  try {
    run_op("BatchNormalization", {},
           {runtime(f32({1, 2, 1}, {1, 2})), constant(f32({3}, {1, 1, 1})),
            constant(f32({2}, {0, 0})), constant(f32({2}, {0, 0})), constant(f32({2}, {1, 1}))});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scale"), std::string::npos) << e.what();
  }
}

TEST(LayerNormalization, ScaleThatDoesNotBroadcastIsAClearError) {
  ir::Attributes a;
  a.set("axis", int64_t{-1});
  try {
    run_op("LayerNormalization", a,
           {runtime(f32({2, 3}, {1, 2, 3, 4, 5, 6})), constant(f32({2, 3}, {1, 1, 1, 1, 1, 1}))});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normalized shape"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
