// MatMul planning for cuBLASLt (host only, runs without a GPU): each plan is checked by replaying
// its calls on the host and comparing every output element's (A row, B column) source with the
// numpy definition, so a wrong stride or offset anywhere shows up as a mismatch.
#include "backends/cuda/matmul_plan.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace kiln::cuda {
namespace {

// Runs the plan on the host over small integer matrices and compares with a direct numpy-style
// matmul; returns "" on a match.
std::string replay(const Shape& a_shape, const Shape& b_shape) {
  MatmulPlan p = plan_matmul(a_shape, b_shape);
  Shape a = a_shape, b = b_shape;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  size_t rank = std::max(a.size(), b.size()) - 2;
  Shape batch(rank);
  auto dim = [&](const Shape& s, size_t i) -> int64_t {
    size_t lead = rank - (s.size() - 2);
    return i < lead ? 1 : s[i - lead];
  };
  for (size_t i = 0; i < rank; ++i) batch[i] = std::max(dim(a, i), dim(b, i));
  int64_t batches = shape_numel(batch);
  std::vector<double> av(static_cast<size_t>(shape_numel(a))),
      bv(static_cast<size_t>(shape_numel(b)));
  for (size_t i = 0; i < av.size(); ++i) av[i] = static_cast<double>(i % 7) - 3;
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<double>(i % 5) - 2;
  std::vector<double> want(static_cast<size_t>(batches * M * N)), got(want.size(), -999);
  for (int64_t t = 0; t < batches; ++t) {
    int64_t rest = t, oa = 0, ob = 0, sa = M * K, sb = K * N;
    for (size_t i = rank; i-- > 0;) {
      int64_t idx = rest % batch[i];
      rest /= batch[i];
      if (dim(a, i) != 1) oa += idx * sa;
      if (dim(b, i) != 1) ob += idx * sb;
      sa *= dim(a, i);
      sb *= dim(b, i);
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += av[oa + m * K + k] * bv[ob + k * N + n];
        want[t * M * N + m * N + n] = s;
      }
  }
  for (const MatmulPlan::Call& c : p.calls) {
    for (int64_t t = 0; t < p.batch; ++t) {
      int64_t oa = c.a + t * p.stride_a, ob = c.b + t * p.stride_b, oc = c.c + t * p.stride_c;
      for (int64_t m = 0; m < p.m; ++m)
        for (int64_t n = 0; n < p.n; ++n) {
          double s = 0;
          for (int64_t k = 0; k < p.k; ++k) s += av.at(oa + m * p.k + k) * bv.at(ob + k * p.n + n);
          got.at(static_cast<size_t>(oc + m * p.n + n)) = s;
        }
    }
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i]) return cat("element ", i, ": plan gives ", got[i], ", numpy ", want[i]);
  }
  return "";
}

TEST(MatmulPlan, ReplaysEveryShapeLikeNumpy) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{1, 1}, {1, 1}},
      {{7, 13}, {13, 5}},
      {{13}, {13, 5}},
      {{7, 13}, {13}},
      {{13}, {13}},
      {{3, 7, 13}, {3, 13, 5}},
      {{3, 7, 13}, {13, 5}},
      {{7, 13}, {3, 13, 5}},
      {{2, 1, 4, 3}, {1, 5, 3, 2}},
      {{2, 3, 4, 3}, {3, 2}},
      {{2, 3, 4, 3}, {1, 3, 3, 2}},
      {{1, 3, 4, 3}, {2, 1, 3, 2}},
      {{2, 3, 4, 6}, {2, 3, 6, 5}},
      {{4}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {5}},
  };
  for (const auto& [a, b] : cases) {
    EXPECT_EQ(replay(a, b), "") << shape_to_string(a) << " x " << shape_to_string(b);
  }
}

TEST(MatmulPlan, UsesOneCallWhereStridesSuffice) {
  MatmulPlan p = plan_matmul({4, 6, 7, 8}, {4, 6, 8, 9});  // full batches merge into one
  EXPECT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.batch, 24);
  p = plan_matmul({6, 8}, {4, 6, 8, 9});  // A broadcast: stride 0
  EXPECT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.batch, 24);
  EXPECT_EQ(p.stride_a, 0);
  p = plan_matmul({4, 6, 7, 8}, {8, 9});  // only A batched: one tall product
  EXPECT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.batch, 1);
  EXPECT_EQ(p.m, 4 * 6 * 7);
  p = plan_matmul({2, 1, 7, 8}, {1, 3, 8, 9});  // crossed broadcast: a call per outer index
  EXPECT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.batch, 3);
}

TEST(MatmulPlan, EmptyOutputsNeedNoCall) {
  EXPECT_TRUE(plan_matmul({0, 4}, {4, 3}).calls.empty());
  EXPECT_TRUE(plan_matmul({2, 0, 5, 4}, {4, 3}).calls.empty());
  EXPECT_TRUE(plan_matmul({0, 5, 4}, {0, 4, 3}).calls.empty());
  MatmulPlan k0 = plan_matmul({5, 0}, {0, 3});  // K = 0: an output of zeros, written by the kernel
  EXPECT_EQ(k0.k, 0);
  EXPECT_FALSE(k0.calls.empty());
}

}  // namespace
}  // namespace kiln::cuda
