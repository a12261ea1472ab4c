// Conv and ConvTranspose kernels against a direct loop written here, over strides, pads,
// dilations, groups (incl. depthwise), auto_pad, 1-D/2-D/3-D, and the float32 (oneDNN) and
// float64 (reference) paths.
#include <gtest/gtest.h>

#include <random>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::run_op;
using test::runtime;

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Direct 2-D convolution: explicit pads, NCHW, weight [M, C/G, kh, kw].
std::vector<double> conv2d_loop(const std::vector<float>& x, const Shape& xs,
                                const std::vector<float>& w, const Shape& ws,
                                const std::vector<float>& b, int64_t group, std::vector<int64_t> s,
                                std::vector<int64_t> d, std::vector<int64_t> p, Shape& ys) {
  int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], m = ws[0], kh = ws[2], kw = ws[3];
  int64_t oh = (h + p[0] + p[2] - ((kh - 1) * d[0] + 1)) / s[0] + 1;
  int64_t ow = (wd + p[1] + p[3] - ((kw - 1) * d[1] + 1)) / s[1] + 1;
  ys = {n, m, oh, ow};
  std::vector<double> y(static_cast<size_t>(n * m * oh * ow));
  int64_t cg = c / group, mg = m / group;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t om = 0; om < m; ++om)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b.empty() ? 0 : b[static_cast<size_t>(om)];
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t e = 0; e < kw; ++e) {
                int64_t yy = i * s[0] - p[0] + a * d[0], xx = j * s[1] - p[1] + e * d[1];
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                int64_t ch = (om / mg) * cg + ic;
                acc += x[static_cast<size_t>(((in * c + ch) * h + yy) * wd + xx)] *
                       w[static_cast<size_t>(((om * cg + ic) * kh + a) * kw + e)];
              }
          y[static_cast<size_t>(((in * m + om) * oh + i) * ow + j)] = acc;
        }
  return y;
}

struct Conv2dCase {
  Shape x, w;
  int64_t group;
  std::vector<int64_t> strides, dilations, pads;
  bool bias;
};

class Conv2dTest : public ::testing::TestWithParam<std::tuple<Conv2dCase, DataType>> {};

TEST_P(Conv2dTest, MatchesDirectLoop) {
  auto [c, dtype] = GetParam();
  auto xv = random_values(static_cast<size_t>(numel(c.x)), 1);
  auto wv = random_values(static_cast<size_t>(numel(c.w)), 2);
  auto bv = c.bias ? random_values(static_cast<size_t>(c.w[0]), 3) : std::vector<float>();
  ir::Attributes attrs;
  attrs.set("group", c.group);
  attrs.set("strides", c.strides);
  attrs.set("dilations", c.dilations);
  attrs.set("pads", c.pads);
  auto to_tensor = [&](const std::vector<float>& v, const Shape& s) {
    if (dtype == DataType::kFloat64) return make(dtype, s, std::vector<double>(v.begin(), v.end()));
    return make(dtype, s, v);
  };
  std::vector<test::OpInput> ins{runtime(to_tensor(xv, c.x)), constant(to_tensor(wv, c.w))};
  if (c.bias) ins.push_back(constant(to_tensor(bv, {c.w[0]})));
  Shape ys;
  auto expected = conv2d_loop(xv, c.x, wv, c.w, bv, c.group, c.strides, c.dilations, c.pads, ys);
  // Twice: the second run reuses the cached primitive and reordered weights.
  for (int run = 0; run < 2; ++run) {
    Tensor y = run_op("Conv", attrs, ins)[0];
    ASSERT_EQ(y.shape(), ys);
    for (size_t i = 0; i < expected.size(); ++i) {
      double got = dtype == DataType::kFloat64 ? y.data<double>()[i] : y.data<float>()[i];
      ASSERT_NEAR(got, expected[i], 1e-4) << "at " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dTest,
    ::testing::Combine(
        ::testing::Values(
            Conv2dCase{{1, 3, 7, 7}, {4, 3, 3, 3}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, false},
            Conv2dCase{{2, 4, 9, 8}, {6, 2, 3, 2}, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}, true},
            Conv2dCase{{1, 8, 6, 6}, {8, 1, 3, 3}, 8, {1, 1}, {1, 1}, {1, 1, 1, 1}, true},
            Conv2dCase{{2, 16, 10, 10}, {32, 16, 3, 3}, 1, {2, 2}, {2, 2}, {2, 2, 2, 2}, true},
            Conv2dCase{{1, 5, 5, 5}, {3, 5, 1, 1}, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, true}),
        ::testing::Values(DataType::kFloat32, DataType::kFloat64)));

TEST(Conv, AutoPadSameUpperAndLowerPlaceTheOddPad) {
  // 1-D, in 4, kernel 2, stride 1: one pad in total, at the end (UPPER) or the start (LOWER).
  Tensor x = make<float>(DataType::kFloat32, {1, 1, 4}, {1, 2, 3, 4});
  Tensor w = make<float>(DataType::kFloat32, {1, 1, 2}, {1, 10});
  ir::Attributes upper, lower;
  upper.set("auto_pad", std::string("SAME_UPPER"));
  lower.set("auto_pad", std::string("SAME_LOWER"));
  EXPECT_EQ(test::values<float>(run_op("Conv", upper, {runtime(x), constant(w)})[0]),
            (std::vector<float>{21, 32, 43, 4}));
  EXPECT_EQ(test::values<float>(run_op("Conv", lower, {runtime(x), constant(w)})[0]),
            (std::vector<float>{10, 21, 32, 43}));
}

TEST(Conv, ThreeDimensionalMatchesSumOfProducts) {
  // A 2x2x2 kernel of ones over a 2x2x2 input sums it.
  std::vector<float> xv{1, 2, 3, 4, 5, 6, 7, 8};
  Tensor x = make(DataType::kFloat32, {1, 1, 2, 2, 2}, xv);
  Tensor w = make(DataType::kFloat32, {1, 1, 2, 2, 2}, std::vector<float>(8, 1.0f));
  Tensor b = make<float>(DataType::kFloat32, {1}, {0.5f});
  Tensor y = run_op("Conv", {}, {runtime(x), constant(w), constant(b)})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 36.5f);
}

TEST(Conv, HalfRunsThroughFloat) {
  Tensor x = make(DataType::kFloat16, {1, 1, 3}, std::vector<Half>{Half(1), Half(2), Half(3)});
  Tensor w = make(DataType::kFloat16, {1, 1, 2}, std::vector<Half>{Half(1), Half(-1)});
  Tensor y = run_op("Conv", {}, {runtime(x), constant(w)})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2}));
  EXPECT_EQ(static_cast<float>(y.data<Half>()[0]), -1.0f);
  EXPECT_EQ(static_cast<float>(y.data<Half>()[1]), -1.0f);
}

TEST(Conv, ChannelMismatchNamesTheNode) {
  Tensor x = make(DataType::kFloat32, {1, 3, 4, 4}, std::vector<float>(48, 1.0f));
  Tensor w = make(DataType::kFloat32, {2, 2, 1, 1}, std::vector<float>(4, 1.0f));
  try {
    run_op("Conv", {}, {runtime(x), constant(w)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test_Conv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("channels"), std::string::npos) << e.what();
  }
}

// Direct 1-D transposed convolution: y[n, m, i*s - pb + k*d] += x[n, c, i] * w[c, m', k].
std::vector<double> conv_transpose1d_loop(const std::vector<float>& x, const Shape& xs,
                                          const std::vector<float>& w, const Shape& ws,
                                          int64_t group, int64_t s, int64_t d, int64_t pb,
                                          int64_t out) {
  int64_t n = xs[0], c = xs[1], in = xs[2], mg = ws[1], k = ws[2], cg = c / group;
  std::vector<double> y(static_cast<size_t>(n * mg * group * out), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < in; ++i)
        for (int64_t mm = 0; mm < mg; ++mm)
          for (int64_t kk = 0; kk < k; ++kk) {
            int64_t o = i * s - pb + kk * d;
            if (o < 0 || o >= out) continue;
            int64_t m = (ch / cg) * mg + mm;
            y[static_cast<size_t>((b * mg * group + m) * out + o)] +=
                x[static_cast<size_t>((b * c + ch) * in + i)] *
                w[static_cast<size_t>((ch * mg + mm) * k + kk)];
          }
  return y;
}

class ConvTransposeTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ConvTransposeTest, StridesGroupsDilationsOutputPadding) {
  DataType dtype = GetParam();
  Shape xs{2, 4, 5}, ws{4, 3, 3};
  auto xv = random_values(40, 4), wv = random_values(36, 5);
  ir::Attributes attrs;
  attrs.set("group", int64_t{2});
  attrs.set("strides", std::vector<int64_t>{3});
  attrs.set("dilations", std::vector<int64_t>{2});
  attrs.set("pads", std::vector<int64_t>{1, 2});
  attrs.set("output_padding", std::vector<int64_t>{1});
  // out = 3 * (5 - 1) + 1 + (3 - 1) * 2 + 1 - 1 - 2 = 15
  auto expected = conv_transpose1d_loop(xv, xs, wv, ws, 2, 3, 2, 1, 15);
  auto tensor = [&](const std::vector<float>& v, const Shape& s) {
    if (dtype == DataType::kFloat64) return make(dtype, s, std::vector<double>(v.begin(), v.end()));
    return make(dtype, s, v);
  };
  Tensor y = run_op("ConvTranspose", attrs, {runtime(tensor(xv, xs)), constant(tensor(wv, ws))})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 6, 15}));
  for (size_t i = 0; i < expected.size(); ++i) {
    double got = dtype == DataType::kFloat64 ? y.data<double>()[i] : y.data<float>()[i];
    ASSERT_NEAR(got, expected[i], 1e-4) << "at " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ConvTransposeTest,
                         ::testing::Values(DataType::kFloat32, DataType::kFloat64));

TEST(ConvTranspose, OutputShapeSetsThePads) {
  // in 3, stride 2, kernel 3: full size 7; output_shape 6 trims one (SAME_UPPER style: at the end
  // when auto_pad is SAME_UPPER, at the start otherwise).
  Tensor x = make<float>(DataType::kFloat32, {1, 1, 3}, {1, 2, 3});
  Tensor w = make<float>(DataType::kFloat32, {1, 1, 3}, {1, 1, 1});
  ir::Attributes attrs;
  attrs.set("strides", std::vector<int64_t>{2});
  attrs.set("output_shape", std::vector<int64_t>{6});
  // Full result: [1, 1, 3, 2, 5, 3, 3]; NOTSET trims the first value.
  EXPECT_EQ(test::values<float>(run_op("ConvTranspose", attrs, {runtime(x), constant(w)})[0]),
            (std::vector<float>{1, 3, 2, 5, 3, 3}));
  attrs.set("auto_pad", std::string("SAME_UPPER"));
  EXPECT_EQ(test::values<float>(run_op("ConvTranspose", attrs, {runtime(x), constant(w)})[0]),
            (std::vector<float>{1, 1, 3, 2, 5, 3}));
}

}  // namespace
}  // namespace kiln
