// ScaledDotProductAttention against a plain reference loop: batch broadcasting, a broadcast
// additive mask, K given transposed, and reduced precision.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/float_types.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;
using test::omitted;
using test::run_op;
using test::runtime;

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-2, 2);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Q [B, H, S, D], K and V [1, H, S, D] (broadcast over B), mask [B, 1, 1, S].
TEST(ScaledDotProductAttention, MatchesTheReferenceWithBroadcastAndMask) {
  const int64_t B = 2, H = 3, S = 5, D = 4;
  auto qv = random_values(static_cast<size_t>(B * H * S * D), 1);
  auto kv = random_values(static_cast<size_t>(H * S * D), 2);
  auto vv = random_values(static_cast<size_t>(H * S * D), 3);
  std::vector<float> mv(static_cast<size_t>(B * S), 0.0f);
  mv[3] = -10000.0f;  // batch 0 ignores key 3
  mv[static_cast<size_t>(S + 0)] = -10000.0f;
  const float scale = 0.5f;
  for (bool transposed : {false, true}) {
    SCOPED_TRACE(transposed);
    std::vector<float> kin = kv;
    Shape kshape = {1, H, S, D};
    if (transposed) {  // [1, H, D, S]
      kshape = {1, H, D, S};
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d)
            kin[static_cast<size_t>((h * D + d) * S + s)] =
                kv[static_cast<size_t>((h * S + s) * D + d)];
    }
    ir::Attributes a;
    a.set("scale", scale);
    a.set("k_transposed", int64_t{transposed ? 1 : 0});
    Tensor y = run_op("ScaledDotProductAttention", a,
                      {runtime(make<float>(DataType::kFloat32, {B, H, S, D}, qv)),
                       runtime(make<float>(DataType::kFloat32, kshape, kin)),
                       runtime(make<float>(DataType::kFloat32, {1, H, S, D}, vv)),
                       runtime(make<float>(DataType::kFloat32, {B, 1, 1, S}, mv))})[0];
    ASSERT_EQ(y.shape(), (Shape{B, H, S, D}));
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t i = 0; i < S; ++i) {
          std::vector<double> p(static_cast<size_t>(S));
          double max = -1e300, sum = 0;
          for (int64_t j = 0; j < S; ++j) {
            double dot = 0;
            for (int64_t d = 0; d < D; ++d)
              dot += qv[static_cast<size_t>(((b * H + h) * S + i) * D + d)] *
                     kv[static_cast<size_t>((h * S + j) * D + d)];
            p[static_cast<size_t>(j)] = dot * scale + mv[static_cast<size_t>(b * S + j)];
            max = std::max(max, p[static_cast<size_t>(j)]);
          }
          for (double& x : p) sum += (x = std::exp(x - max));
          for (int64_t d = 0; d < D; ++d) {
            double want = 0;
            for (int64_t j = 0; j < S; ++j)
              want +=
                  p[static_cast<size_t>(j)] / sum * vv[static_cast<size_t>((h * S + j) * D + d)];
            EXPECT_NEAR(y.data<float>()[((b * H + h) * S + i) * D + d], want, 1e-5)
                << b << h << i << d;
          }
        }
      }
    }
  }
}

TEST(ScaledDotProductAttention, DifferentValueWidthAndNoMask) {
  // Q [2, 3], K [4, 3], V [4, 1]: uniform attention when Q is zero.
  Tensor q = make<float>(DataType::kFloat32, {2, 3}, std::vector<float>(6, 0.0f));
  Tensor k = make<float>(DataType::kFloat32, {4, 3}, random_values(12, 4));
  Tensor v = make<float>(DataType::kFloat32, {4, 1}, {1, 2, 3, 6});
  ir::Attributes a;
  a.set("scale", 1.0f);
  Tensor y = run_op("ScaledDotProductAttention", a, {runtime(q), runtime(k), runtime(v)})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], 3.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 3.0f);
}

TEST(ScaledDotProductAttention, RejectsMismatchedHeadSizes) {
  Tensor q = make<float>(DataType::kFloat32, {2, 3}, std::vector<float>(6, 0.0f));
  Tensor k = make<float>(DataType::kFloat32, {4, 2}, std::vector<float>(8, 0.0f));
  Tensor v = make<float>(DataType::kFloat32, {4, 1}, std::vector<float>(4, 0.0f));
  EXPECT_THROW(run_op("ScaledDotProductAttention", {}, {runtime(q), runtime(k), runtime(v)}),
               Error);
}

TEST(ScaledDotProductAttention, BFloat16StaysCloseToFloat) {
  const int64_t S = 6, D = 8;
  auto qv = random_values(static_cast<size_t>(S * D), 5);
  auto kv = random_values(static_cast<size_t>(S * D), 6);
  auto vv = random_values(static_cast<size_t>(S * D), 7);
  auto to_bf16 = [](const std::vector<float>& v) {
    std::vector<BFloat16> out;
    for (float x : v) out.push_back(BFloat16(x));
    return out;
  };
  auto back = [](const std::vector<BFloat16>& v) {
    std::vector<float> out;
    for (BFloat16 x : v) out.push_back(static_cast<float>(x));
    return out;
  };
  ir::Attributes a;
  a.set("scale", 0.25f);
  Tensor y16 = run_op("ScaledDotProductAttention", a,
                      {runtime(make<BFloat16>(DataType::kBFloat16, {S, D}, to_bf16(qv))),
                       runtime(make<BFloat16>(DataType::kBFloat16, {S, D}, to_bf16(kv))),
                       runtime(make<BFloat16>(DataType::kBFloat16, {S, D}, to_bf16(vv)))})[0];
  Tensor y32 = run_op("ScaledDotProductAttention", a,
                      {runtime(make<float>(DataType::kFloat32, {S, D}, back(to_bf16(qv)))),
                       runtime(make<float>(DataType::kFloat32, {S, D}, back(to_bf16(kv)))),
                       runtime(make<float>(DataType::kFloat32, {S, D}, back(to_bf16(vv))))})[0];
  for (int64_t i = 0; i < S * D; ++i)
    EXPECT_NEAR(static_cast<float>(y16.data<BFloat16>()[i]), y32.data<float>()[i], 0.05) << i;
}

}  // namespace
}  // namespace kiln
