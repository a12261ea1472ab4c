// Conv and FusedConv with channels_last=1 against the same layer in NCHW with its input and
// weight transposed: random data over strides, pads, dilations, groups and depthwise, 1x1, 7x7,
// 1-D and 3-D, bias, residual and activation; float32 (oneDNN), float64 and float16 (reference).
#include <gtest/gtest.h>

#include <cmath>

#include "ir/activation.hpp"
#include "unit/channels_last_test_util.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::run_op;
using test::runtime;
using V = std::vector<int64_t>;

struct ConvCase {
  const char* label;
  Shape x, w;  // NCHW / KCRS
  V strides, pads, dilations;
  int64_t group = 1;
};

const ConvCase kCases[] = {
    {"3x3 pad 1", {2, 8, 9, 10}, {16, 8, 3, 3}, {}, {1, 1, 1, 1}, {}},
    {"stride 2 uneven pads", {1, 6, 11, 9}, {4, 6, 3, 3}, {2, 2}, {0, 1, 2, 1}, {}},
    {"dilation 2", {1, 5, 12, 12}, {7, 5, 3, 3}, {}, {2, 2, 2, 2}, {2, 2}},
    {"groups 2", {2, 8, 7, 7}, {6, 4, 3, 3}, {}, {1, 1, 1, 1}, {}, 2},
    {"depthwise stride 2", {1, 12, 10, 10}, {12, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 12},
    {"1x1", {3, 16, 5, 4}, {8, 16, 1, 1}, {}, {}, {}},
    {"7x7 stride 2 C=3", {1, 3, 20, 20}, {8, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}, {}},
    {"1-D", {2, 4, 13}, {5, 4, 3}, {2}, {1, 1}, {}},
    {"3-D", {1, 3, 5, 6, 4}, {4, 3, 2, 3, 2}, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {}},
};

ir::Attributes conv_attrs(const ConvCase& c) {
  ir::Attributes a;
  if (!c.strides.empty()) a.set("strides", c.strides);
  if (!c.pads.empty()) a.set("pads", c.pads);
  if (!c.dilations.empty()) a.set("dilations", c.dilations);
  a.set("group", c.group);
  return a;
}

// Largest difference relative to the largest magnitude of `want`.
double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  double scale = 1e-12, err = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err / scale;
}

// Runs `op` both ways and returns the relative error of the channels-last result.
double compare_layouts(const std::string& op, const ir::Attributes& attrs, DataType dtype,
                       const Shape& xs, const Shape& ws, bool bias, const std::optional<Shape>& z,
                       uint32_t seed) {
  Tensor x = test::random_tensor(dtype, xs, seed);
  Tensor w = test::random_tensor(dtype, ws, seed + 1);
  Tensor b = test::random_tensor(dtype, {ws[0]}, seed + 2);
  std::vector<test::OpInput> nchw{runtime(x), constant(w)};
  std::vector<test::OpInput> nhwc{runtime(test::to_nhwc(x)), constant(test::to_nhwc(w))};
  if (bias || z) {
    nchw.push_back(bias ? constant(b) : test::omitted());
    nhwc.push_back(bias ? constant(b) : test::omitted());
  }
  if (z) {
    Tensor zt = test::random_tensor(dtype, *z, seed + 3);
    nchw.push_back(runtime(zt));
    nhwc.push_back(runtime(test::to_nhwc(zt)));
  }
  Tensor want = run_op(op, attrs, nchw)[0];
  ir::Attributes last = attrs;
  last.set("channels_last", int64_t{1});
  Tensor got = run_op(op, last, nhwc)[0];
  EXPECT_EQ(got.shape(), ir::to_channels_last(want.shape())) << op;
  return relative_error(test::as_doubles(test::to_nchw(got)), test::as_doubles(want));
}

double tolerance(DataType t) {
  return t == DataType::kFloat16 ? 2e-3 : 1e-5;
}

TEST(ConvChannelsLast, MatchesNchwOverGeometriesAndDtypes) {
  uint32_t seed = 1;
  for (const ConvCase& c : kCases) {
    for (DataType t : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16}) {
      double err = compare_layouts("Conv", conv_attrs(c), t, c.x, c.w, false, std::nullopt, seed);
      EXPECT_LE(err, tolerance(t)) << c.label << " " << to_string(t);
      seed += 10;
    }
  }
}

TEST(ConvChannelsLast, WithBiasMatchesNchw) {
  const ConvCase& c = kCases[1];
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    double err = compare_layouts("Conv", conv_attrs(c), t, c.x, c.w, true, std::nullopt, 7);
    EXPECT_LE(err, tolerance(t)) << to_string(t);
  }
}

TEST(ConvChannelsLast, FusedConvEpiloguesMatchNchw) {
  struct Epi {
    ir::Activation act;
    bool residual;
    bool before;
  };
  const Epi epis[] = {{{ir::ActivationKind::kRelu}, false, true},
                      {{ir::ActivationKind::kRelu}, true, true},
                      {{ir::ActivationKind::kSilu}, true, false},
                      {{ir::ActivationKind::kClip, 0.0f, 6.0f}, false, true},
                      {{ir::ActivationKind::kHardSwish}, true, true}};
  uint32_t seed = 100;
  for (size_t i : {0, 3, 4, 6}) {
    const ConvCase& c = kCases[i];
    // The output shape, from the NCHW conv itself.
    Tensor probe = run_op("Conv", conv_attrs(c),
                          {runtime(test::random_tensor(DataType::kFloat32, c.x, 1)),
                           constant(test::random_tensor(DataType::kFloat32, c.w, 2))})[0];
    for (const Epi& e : epis) {
      for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
        ir::Attributes a = conv_attrs(c);
        ir::write_activation(a, e.act);
        if (e.residual) a.set("residual_before_activation", int64_t{e.before});
        std::optional<Shape> z;
        if (e.residual) z = probe.shape();
        double err = compare_layouts("FusedConv", a, t, c.x, c.w, true, z, seed += 10);
        EXPECT_LE(err, tolerance(t)) << c.label << " " << ir::to_string(e.act) << " residual "
                                     << e.residual << " " << to_string(t);
      }
    }
  }
}

TEST(ConvChannelsLast, InferenceReadsWeightAsKrsc) {
  // [K, R, S, C]: a weight in KCRS order is rejected by its channel count.
  Tensor x = test::random_tensor(DataType::kFloat32, {1, 5, 5, 3}, 1);
  ir::Attributes a;
  a.set("channels_last", int64_t{1});
  Tensor krsc = test::random_tensor(DataType::kFloat32, {4, 3, 3, 3}, 2);
  EXPECT_EQ(run_op("Conv", a, {runtime(x), constant(krsc)})[0].shape(), (Shape{1, 3, 3, 4}));
  Tensor kcrs = test::random_tensor(DataType::kFloat32, {4, 3, 2, 2}, 2);
  try {
    run_op("Conv", a, {runtime(x), constant(kcrs)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input has 3 channels but the weight expects 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(ConvChannelsLast, RejectsBadAttributeValuesAndTransposedConvs) {
  Tensor x = test::random_tensor(DataType::kFloat32, {1, 5, 5, 3}, 1);
  Tensor w = test::random_tensor(DataType::kFloat32, {3, 4, 3, 3}, 2);
  ir::Attributes a;
  a.set("channels_last", int64_t{2});
  EXPECT_THROW(run_op("Conv", a, {runtime(x), constant(w)}), Error);
  ir::Attributes t;
  t.set("channels_last", int64_t{1});
  EXPECT_THROW(run_op("ConvTranspose", t, {runtime(x), constant(w)}), Error);
}

}  // namespace
}  // namespace kiln
