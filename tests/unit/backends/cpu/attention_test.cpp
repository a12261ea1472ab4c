// Attention and RotaryEmbedding kernels against plain loops written here from the ONNX spec:
// MHA and GQA, 3-D and 4-D layouts, KV cache concat with the offset causal mask, bool and float
// masks (a short mask padded), softcap, the qk_matmul_output modes, fully masked rows and
// nonpad_kv_seqlen; RoPE in half-split and interleaved form, with and without position_ids.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::omitted;
using test::run_op;
using test::runtime;
using test::values;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

Tensor f32(Shape s, std::vector<float> v) {
  return make(DataType::kFloat32, std::move(s), std::move(v));
}

// 4-D reference: q (B, Hq, Sq, D), k (B, Hkv, L, D), v (B, Hkv, L, Dv); bias(b, h, i, j) is
// added to the scaled scores; rows whose bias is all -inf give zeros.
struct Reference {
  int64_t b, hq, hkv, sq, l, d, dv;
  double scale;
  double softcap = 0;
  std::vector<double> scores, probs, y;

  template <typename Bias>
  void run(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
           Bias bias) {
    scores.assign(static_cast<size_t>(b * hq * sq * l), 0);
    probs = scores;
    y.assign(static_cast<size_t>(b * hq * sq * dv), 0);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t h = 0; h < hq; ++h) {
        int64_t kh = h / (hq / hkv);
        for (int64_t i = 0; i < sq; ++i) {
          std::vector<double> row(static_cast<size_t>(l));
          bool all_masked = true;
          for (int64_t j = 0; j < l; ++j) {
            double s = 0;
            for (int64_t x = 0; x < d; ++x)
              s += q[static_cast<size_t>(((bi * hq + h) * sq + i) * d + x)] *
                   k[static_cast<size_t>(((bi * hkv + kh) * l + j) * d + x)];
            s *= scale;
            if (softcap > 0) s = softcap * std::tanh(s / softcap);
            scores[static_cast<size_t>(((bi * hq + h) * sq + i) * l + j)] = s;
            double bj = bias(bi, h, i, j);
            if (bj != -kInf) all_masked = false;
            row[static_cast<size_t>(j)] = s + bj;
          }
          double m = -kInf, sum = 0;
          for (double r : row) m = std::max(m, r);
          for (double& r : row) sum += (r = all_masked ? 0 : std::exp(r - m));
          for (int64_t j = 0; j < l; ++j) {
            double p = all_masked ? 0 : row[static_cast<size_t>(j)] / sum;
            probs[static_cast<size_t>(((bi * hq + h) * sq + i) * l + j)] = p;
            for (int64_t x = 0; x < dv; ++x)
              y[static_cast<size_t>(((bi * hq + h) * sq + i) * dv + x)] +=
                  p * v[static_cast<size_t>(((bi * hkv + kh) * l + j) * dv + x)];
          }
        }
      }
  }
};

void expect_near(const Tensor& t, const std::vector<double>& expected, double tol = 1e-5) {
  ASSERT_EQ(static_cast<size_t>(t.numel()), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(t.data<float>()[i], expected[i], tol) << "at " << i;
}

TEST(Attention, MultiHeadFourDMatchesReference) {
  Reference r{2, 2, 2, 3, 4, 5, 3, 1.0 / std::sqrt(5.0)};
  auto q = random_values(2 * 2 * 3 * 5, 1), k = random_values(2 * 2 * 4 * 5, 2),
       v = random_values(2 * 2 * 4 * 3, 3);
  r.run(q, k, v, [](auto...) { return 0.0; });
  auto out = run_op("Attention", {},
                    {runtime(f32({2, 2, 3, 5}, q)), runtime(f32({2, 2, 4, 5}, k)),
                     runtime(f32({2, 2, 4, 3}, v))});
  ASSERT_EQ(out[0].shape(), (Shape{2, 2, 3, 3}));
  expect_near(out[0], r.y);
}

TEST(Attention, GroupedQueryThreeDWithCacheAndOffsetCausalMask) {
  // 4 query heads share 2 kv heads; 2 cached steps precede 3 new ones.
  const int64_t b = 1, hq = 4, hkv = 2, sq = 3, past = 2, d = 2;
  auto q = random_values(b * sq * hq * d, 4), k = random_values(b * sq * hkv * d, 5),
       v = random_values(b * sq * hkv * d, 6), pk = random_values(b * hkv * past * d, 7),
       pv = random_values(b * hkv * past * d, 8);
  ir::Attributes a;
  a.set("q_num_heads", hq);
  a.set("kv_num_heads", hkv);
  a.set("is_causal", int64_t{1});
  a.set("scale", 0.5f);
  auto out = run_op("Attention", a,
                    {runtime(f32({b, sq, hq * d}, q)), runtime(f32({b, sq, hkv * d}, k)),
                     runtime(f32({b, sq, hkv * d}, v)), omitted(),
                     runtime(f32({b, hkv, past, d}, pk)), runtime(f32({b, hkv, past, d}, pv))},
                    3);
  // The reference works on 4-D tensors: transpose the 3-D inputs and concat the cache.
  auto to4d = [&](const std::vector<float>& x, int64_t heads) {
    std::vector<float> r4(x.size());
    for (int64_t s = 0; s < sq; ++s)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t x0 = 0; x0 < d; ++x0)
          r4[static_cast<size_t>((h * sq + s) * d + x0)] =
              x[static_cast<size_t>((s * heads + h) * d + x0)];
    return r4;
  };
  auto concat = [&](const std::vector<float>& p, const std::vector<float>& now) {
    std::vector<float> r4;
    for (int64_t h = 0; h < hkv; ++h) {
      r4.insert(r4.end(), p.begin() + h * past * d, p.begin() + (h + 1) * past * d);
      r4.insert(r4.end(), now.begin() + h * sq * d, now.begin() + (h + 1) * sq * d);
    }
    return r4;
  };
  std::vector<float> k4 = concat(pk, to4d(k, hkv)), v4 = concat(pv, to4d(v, hkv));
  Reference r{b, hq, hkv, sq, past + sq, d, d, 0.5};
  r.run(to4d(q, hq), k4, v4,
        [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + past ? 0.0 : -kInf; });
  // Y comes back in the 3-D layout (B, Sq, Hq * Dv).
  std::vector<double> y3(r.y.size());
  for (int64_t s = 0; s < sq; ++s)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t x0 = 0; x0 < d; ++x0)
        y3[static_cast<size_t>((s * hq + h) * d + x0)] =
            r.y[static_cast<size_t>((h * sq + s) * d + x0)];
  expect_near(out[0], y3);
  ASSERT_EQ(out[1].shape(), (Shape{b, hkv, past + sq, d}));
  EXPECT_EQ(values<float>(out[1]), k4);
  EXPECT_EQ(values<float>(out[2]), v4);
}

TEST(Attention, BoolAndFloatMasksWithShortMaskPadded) {
  const int64_t sq = 2, l = 3, d = 2;
  auto q = random_values(sq * d, 9), k = random_values(l * d, 10), v = random_values(l * d, 11);
  Reference r{1, 1, 1, sq, l, d, d, 1.0 / std::sqrt(2.0)};
  // Bool mask of 2 key columns: the third key is padded as masked.
  std::vector<uint8_t> mask{1, 0, 1, 1};
  r.run(q, k, v, [&](int64_t, int64_t, int64_t i, int64_t j) {
    return j < 2 && mask[static_cast<size_t>(i * 2 + j)] ? 0.0 : -kInf;
  });
  Tensor bool_mask = make(DataType::kBool, {sq, 2}, mask);
  auto out = run_op("Attention", {},
                    {runtime(f32({1, 1, sq, d}, q)), runtime(f32({1, 1, l, d}, k)),
                     runtime(f32({1, 1, l, d}, v)), runtime(bool_mask)});
  expect_near(out[0], r.y);

  std::vector<float> fmask{0.5f, -1.0f, 2.0f, 0.0f, 0.25f, -0.5f};
  r.run(q, k, v, [&](int64_t, int64_t, int64_t i, int64_t j) {
    return static_cast<double>(fmask[static_cast<size_t>(i * l + j)]);
  });
  out = run_op("Attention", {},
               {runtime(f32({1, 1, sq, d}, q)), runtime(f32({1, 1, l, d}, k)),
                runtime(f32({1, 1, l, d}, v)), runtime(f32({sq, l}, fmask))});
  expect_near(out[0], r.y);
}

TEST(Attention, SoftcapAndQkOutputModes) {
  const int64_t sq = 2, l = 3, d = 4;
  auto q = random_values(sq * d, 12), k = random_values(l * d, 13), v = random_values(l * d, 14);
  for (auto& x : q) x *= 8;  // large logits, so the cap matters
  std::vector<float> fmask{0, -1, 0, 1, 0, 0};
  Reference r{1, 1, 1, sq, l, d, d, 0.5};
  r.softcap = 2.0;
  r.run(q, k, v, [&](int64_t, int64_t, int64_t i, int64_t j) {
    return static_cast<double>(fmask[static_cast<size_t>(i * l + j)]);
  });
  for (int64_t mode = 1; mode <= 3; ++mode) {
    ir::Attributes a;
    a.set("softcap", 2.0f);
    a.set("qk_matmul_output_mode", mode);
    auto out = run_op("Attention", a,
                      {runtime(f32({1, 1, sq, d}, q)), runtime(f32({1, 1, l, d}, k)),
                       runtime(f32({1, 1, l, d}, v)), runtime(f32({sq, l}, fmask))},
                      4);
    expect_near(out[0], r.y);
    std::vector<double> expected = mode == 3 ? r.probs : r.scores;
    if (mode == 2)
      for (size_t i = 0; i < expected.size(); ++i) expected[i] += fmask[i];
    expect_near(out[3], expected);
  }
}

TEST(Attention, FullyMaskedRowIsZeroAndNonpadLengthsMaskKeys) {
  const int64_t b = 2, sq = 2, l = 4, d = 2;
  auto q = random_values(b * sq * d, 15), k = random_values(b * l * d, 16),
       v = random_values(b * l * d, 17);
  // Batch 0 keeps 3 keys, batch 1 keeps 1; with is_causal the frontier is nonpad - Sq, so
  // batch 1's first query sees no key at all.
  std::vector<int64_t> nonpad{3, 1};
  ir::Attributes a;
  a.set("is_causal", int64_t{1});
  auto out = run_op(
      "Attention", a,
      {runtime(f32({b, 1, sq, d}, q)), runtime(f32({b, 1, l, d}, k)), runtime(f32({b, 1, l, d}, v)),
       omitted(), omitted(), omitted(), runtime(make(DataType::kInt64, {b}, nonpad))});
  Reference r{b, 1, 1, sq, l, d, d, 1.0 / std::sqrt(2.0)};
  r.run(q, k, v, [&](int64_t bi, int64_t, int64_t i, int64_t j) {
    int64_t n = nonpad[static_cast<size_t>(bi)];
    return j < n && j <= i + n - sq ? 0.0 : -kInf;
  });
  expect_near(out[0], r.y);
  EXPECT_EQ(out[0].data<float>()[4], 0.0f);  // batch 1, query 0
  EXPECT_EQ(out[0].data<float>()[5], 0.0f);
}

TEST(Attention, MismatchedHeadsFailClearly) {
  ir::Attributes a;
  a.set("q_num_heads", int64_t{3});
  a.set("kv_num_heads", int64_t{2});
  try {
    run_op("Attention", a,
           {runtime(f32({1, 1, 6}, std::vector<float>(6))),
            runtime(f32({1, 1, 4}, std::vector<float>(4))),
            runtime(f32({1, 1, 4}, std::vector<float>(4)))});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of kv heads"), std::string::npos) << e.what();
  }
}

TEST(RotaryEmbedding, HalfSplitAndInterleavedWithPositionIds) {
  const int64_t b = 1, h = 2, s = 2, d = 4, half = 2, max_pos = 3;
  auto x = random_values(b * h * s * d, 18), cos = random_values(max_pos * half, 19),
       sin = random_values(max_pos * half, 20);
  std::vector<int64_t> pos{2, 0};
  for (int64_t interleaved = 0; interleaved <= 1; ++interleaved) {
    ir::Attributes a;
    a.set("interleaved", interleaved);
    Tensor y = run_op(
        "RotaryEmbedding", a,
        {runtime(f32({b, h, s, d}, x)), constant(f32({max_pos, half}, cos)),
         constant(f32({max_pos, half}, sin)), runtime(make(DataType::kInt64, {b, s}, pos))})[0];
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t si = 0; si < s; ++si)
        for (int64_t i = 0; i < half; ++i) {
          int64_t base = (hi * s + si) * d;
          int64_t i1 = interleaved ? base + 2 * i : base + i;
          int64_t i2 = interleaved ? base + 2 * i + 1 : base + i + half;
          auto row = static_cast<size_t>(pos[static_cast<size_t>(si)] * half + i);
          float c = cos[row], sn = sin[row];
          float x1 = x[static_cast<size_t>(i1)], x2 = x[static_cast<size_t>(i2)];
          EXPECT_NEAR(y.data<float>()[i1], c * x1 - sn * x2, 1e-6);
          EXPECT_NEAR(y.data<float>()[i2], sn * x1 + c * x2, 1e-6);
        }
  }
}

TEST(RotaryEmbedding, PartialRotationThreeDWithoutPositionIds) {
  // 3-D input (B, S, H * D), rotating the first 2 of 4 dims; caches are (B, S, 1).
  const int64_t b = 1, s = 2, h = 1, d = 4;
  auto x = random_values(b * s * h * d, 21);
  std::vector<float> cos{0.5f, -1.0f}, sin{0.25f, 0.0f};
  ir::Attributes a;
  a.set("num_heads", h);
  a.set("rotary_embedding_dim", int64_t{2});
  Tensor y = run_op("RotaryEmbedding", a,
                    {runtime(f32({b, s, h * d}, x)), runtime(f32({b, s, 1}, cos)),
                     runtime(f32({b, s, 1}, sin))})[0];
  for (int64_t si = 0; si < s; ++si) {
    auto c = cos[static_cast<size_t>(si)], sn = sin[static_cast<size_t>(si)];
    auto at = [&](int64_t i) { return static_cast<size_t>(si * d + i); };
    EXPECT_NEAR(y.data<float>()[at(0)], c * x[at(0)] - sn * x[at(1)], 1e-6);
    EXPECT_NEAR(y.data<float>()[at(1)], sn * x[at(0)] + c * x[at(1)], 1e-6);
    EXPECT_EQ(y.data<float>()[at(2)], x[at(2)]);  // not rotated
    EXPECT_EQ(y.data<float>()[at(3)], x[at(3)]);
  }
}

TEST(RotaryEmbedding, PositionOutsideTheCacheFails) {
  EXPECT_THROW(run_op("RotaryEmbedding", {},
                      {runtime(f32({1, 1, 1, 2}, {1, 2})), constant(f32({1, 1}, {1})),
                       constant(f32({1, 1}, {0})),
                       runtime(make(DataType::kInt64, {1, 1}, std::vector<int64_t>{5}))}),
               Error);
}

}  // namespace
}  // namespace kiln
