// MatMul, Gemm and Einsum kernels against loops written here: batch broadcasting, 1-D operands,
// transposes, alpha/beta with C broadcast, diagonals, ellipsis, and non-float32 dtypes (which take
// the reference path instead of oneDNN).
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
using test::values;

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

TEST(MatMul, BatchBroadcastMatchesLoop) {
  // a [2, 1, 3, 4] x b [3, 4, 5] -> [2, 3, 3, 5]
  auto av = random_values(24, 1), bv = random_values(60, 2);
  Tensor y = run_op("MatMul", {},
                    {runtime(make(DataType::kFloat32, {2, 1, 3, 4}, av)),
                     constant(make(DataType::kFloat32, {3, 4, 5}, bv))})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t c = 0; c < 5; ++c) {
          double acc = 0;
          for (int64_t k = 0; k < 4; ++k) acc += av[i * 12 + r * 4 + k] * bv[j * 20 + k * 5 + c];
          ASSERT_NEAR(y.data<float>()[((i * 3 + j) * 3 + r) * 5 + c], acc, 1e-5);
        }
}

TEST(MatMul, OneDimensionalOperandsDropTheirAxis) {
  Tensor v = make<float>(DataType::kFloat32, {3}, {1, 2, 3});
  Tensor m = make<float>(DataType::kFloat32, {3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor vm = run_op("MatMul", {}, {runtime(v), runtime(m)})[0];
  EXPECT_EQ(vm.shape(), (Shape{2}));
  EXPECT_EQ(values<float>(vm), (std::vector<float>{22, 28}));
  Tensor vv = run_op("MatMul", {}, {runtime(v), runtime(v)})[0];
  EXPECT_EQ(vv.shape(), (Shape{}));
  EXPECT_EQ(values<float>(vv), (std::vector<float>{14}));
  Tensor mt = make<float>(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor mv = run_op("MatMul", {}, {runtime(mt), runtime(v)})[0];
  EXPECT_EQ(mv.shape(), (Shape{2}));
  EXPECT_EQ(values<float>(mv), (std::vector<float>{14, 32}));
}

TEST(MatMul, IntegersWrapLikeNumpy) {
  Tensor a = make<int32_t>(DataType::kInt32, {1, 2}, {65536, 1});
  Tensor b = make<int32_t>(DataType::kInt32, {2, 1}, {65536, 7});
  // 2^32 + 7 wraps to 7 in int32.
  EXPECT_EQ(values<int32_t>(run_op("MatMul", {}, {runtime(a), runtime(b)})[0]),
            (std::vector<int32_t>{7}));
}

TEST(MatMul, DoubleAndHalfUseTheReferencePath) {
  Tensor a = make<double>(DataType::kFloat64, {2, 2}, {1, 2, 3, 4});
  Tensor b = make<double>(DataType::kFloat64, {2, 2}, {5, 6, 7, 8});
  EXPECT_EQ(values<double>(run_op("MatMul", {}, {runtime(a), runtime(b)})[0]),
            (std::vector<double>{19, 22, 43, 50}));
  Tensor ha = make(DataType::kFloat16, {1, 2}, std::vector<Half>{Half(1.5f), Half(2)});
  Tensor hb = make(DataType::kFloat16, {2, 1}, std::vector<Half>{Half(2), Half(-1)});
  Tensor hy = run_op("MatMul", {}, {runtime(ha), runtime(hb)})[0];
  EXPECT_EQ(static_cast<float>(hy.data<Half>()[0]), 1.0f);
}

TEST(MatMul, InnerDimMismatchIsAClearError) {
  Tensor a = make(DataType::kFloat32, {2, 3}, std::vector<float>(6));
  Tensor b = make(DataType::kFloat32, {4, 2}, std::vector<float>(8));
  try {
    run_op("MatMul", {}, {runtime(a), runtime(b)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inner dims"), std::string::npos) << e.what();
  }
}

class GemmTest : public ::testing::TestWithParam<std::tuple<bool, bool, int, DataType>> {};

TEST_P(GemmTest, MatchesLoop) {
  auto [ta, tb, c_rank, dtype] = GetParam();
  int64_t m = 3, k = 4, n = 5;
  auto av = random_values(12, 3), bv = random_values(20, 4), cv = random_values(15, 5);
  Shape as = ta ? Shape{k, m} : Shape{m, k}, bs = tb ? Shape{n, k} : Shape{k, n};
  Shape cs = c_rank == 0 ? Shape{} : c_rank == 1 ? Shape{n} : Shape{m, 1};
  cv.resize(static_cast<size_t>(c_rank == 0 ? 1 : c_rank == 1 ? n : m));
  ir::Attributes attrs;
  attrs.set("transA", int64_t{ta});
  attrs.set("transB", int64_t{tb});
  attrs.set("alpha", 0.5f);
  attrs.set("beta", -2.0f);
  auto tensor = [&](const std::vector<float>& v, const Shape& s) {
    if (dtype == DataType::kFloat64) return make(dtype, s, std::vector<double>(v.begin(), v.end()));
    return make(dtype, s, v);
  };
  Tensor y =
      run_op("Gemm", attrs,
             {runtime(tensor(av, as)), constant(tensor(bv, bs)), constant(tensor(cv, cs))})[0];
  ASSERT_EQ(y.shape(), (Shape{m, n}));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += av[ta ? p * m + i : i * k + p] * bv[tb ? j * k + p : p * n + j];
      double c = c_rank == 0 ? cv[0] : c_rank == 1 ? cv[j] : cv[i];
      double got =
          dtype == DataType::kFloat64 ? y.data<double>()[i * n + j] : y.data<float>()[i * n + j];
      ASSERT_NEAR(got, 0.5 * acc - 2.0 * c, 1e-5) << i << "," << j;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, GemmTest,
    ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Values(0, 1, 2),
                       ::testing::Values(DataType::kFloat32, DataType::kFloat64)));

TEST(Gemm, WithoutC) {
  Tensor a = make<float>(DataType::kFloat32, {1, 2}, {1, 2});
  Tensor b = make<float>(DataType::kFloat32, {2, 1}, {3, 4});
  EXPECT_EQ(values<float>(run_op("Gemm", {}, {runtime(a), runtime(b)})[0]),
            (std::vector<float>{11}));
}

Tensor einsum(const std::string& eq, std::vector<Tensor> ins) {
  ir::Attributes attrs;
  attrs.set("equation", eq);
  std::vector<test::OpInput> in;
  for (auto& t : ins) in.push_back(runtime(t));
  return run_op("Einsum", attrs, in)[0];
}

TEST(Einsum, BatchMatmulMatchesLoop) {
  auto av = random_values(2 * 3 * 4, 6), bv = random_values(2 * 4 * 5, 7);
  // Output order differs from the natural [b, i, k] to exercise the final permutation.
  Tensor y = einsum("bij,bjk->kbi", {make(DataType::kFloat32, {2, 3, 4}, av),
                                     make(DataType::kFloat32, {2, 4, 5}, bv)});
  ASSERT_EQ(y.shape(), (Shape{5, 2, 3}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 5; ++k) {
        double acc = 0;
        for (int64_t j = 0; j < 4; ++j) acc += av[(b * 3 + i) * 4 + j] * bv[(b * 4 + j) * 5 + k];
        ASSERT_NEAR(y.data<float>()[(k * 2 + b) * 3 + i], acc, 1e-5);
      }
}

TEST(Einsum, DiagonalTraceTransposeAndSum) {
  Tensor m = make<float>(DataType::kFloat32, {3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(values<float>(einsum("ii->i", {m})), (std::vector<float>{1, 5, 9}));
  EXPECT_EQ(values<float>(einsum("ii", {m})), (std::vector<float>{15}));
  EXPECT_EQ(values<float>(einsum("ij->ji", {m})), (std::vector<float>{1, 4, 7, 2, 5, 8, 3, 6, 9}));
  EXPECT_EQ(values<float>(einsum("ij->i", {m})), (std::vector<float>{6, 15, 24}));
  // Implicit output: letters used once, alphabetically -> "ji" is a transpose.
  EXPECT_EQ(values<float>(einsum("ji", {m})), (std::vector<float>{1, 4, 7, 2, 5, 8, 3, 6, 9}));
}

TEST(Einsum, EllipsisBroadcastsAndOuterProduct) {
  Tensor a = make<float>(DataType::kFloat32, {2, 1, 2}, {1, 2, 3, 4});
  Tensor b = make<float>(DataType::kFloat32, {3, 2}, {1, 0, 0, 1, 1, 1});
  Tensor y = einsum("...j,...j->...", {a, b});
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 2, 3, 3, 4, 7}));
  Tensor u = make<float>(DataType::kFloat32, {2}, {1, 2});
  Tensor v = make<float>(DataType::kFloat32, {3}, {1, 10, 100});
  EXPECT_EQ(values<float>(einsum("i,j->ij", {u, v})), (std::vector<float>{1, 10, 100, 2, 20, 200}));
}

TEST(Einsum, IntegersAndThreeOperands) {
  Tensor a = make<int64_t>(DataType::kInt64, {2}, {1, 2});
  Tensor b = make<int64_t>(DataType::kInt64, {2}, {3, 4});
  Tensor c = make<int64_t>(DataType::kInt64, {2}, {5, 6});
  EXPECT_EQ(values<int64_t>(einsum("i,i,i->", {a, b, c})),
            (std::vector<int64_t>{1 * 3 * 5 + 2 * 4 * 6}));
}

TEST(Einsum, BadEquationNamesTheProblem) {
  Tensor m = make<float>(DataType::kFloat32, {2, 2}, {1, 2, 3, 4});
  try {
    einsum("ijk->i", {m});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
