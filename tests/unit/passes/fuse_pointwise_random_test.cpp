// fuse_pointwise on random graphs of fusible layers mixed with layers it cannot take (Softmax,
// Identity), where groups merge, straddle unfused layers and meet again: the result never has a
// cycle, verifies, and computes bit for bit what the unfused graph does. This is what the pass's
// pruned cycle check (it explores only what can lie on a cycle) has to get right.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

// `layers` layers over values of shape [2, 5]; each reads one or two earlier values, mostly
// recent ones. Every value nothing reads becomes an output.
void random_dag(test::PassGraphBuilder& b, std::mt19937& rng, int layers) {
  std::vector<ir::Value*> values = {b.input("x", {2, 5}), b.input("y", {2, 5})};
  std::vector<bool> read(values.size(), false);
  const char* unary[] = {"Relu", "Sigmoid", "Neg", "Softmax", "Identity", "Tanh"};
  const char* binary[] = {"Add", "Mul", "Sub", "Max"};
  std::uniform_int_distribution<int> coin(0, 9);
  auto pick = [&]() {
    // Half the time one of the last three values, else any.
    size_t n = values.size();
    size_t k =
        coin(rng) < 5
            ? n - 1 - std::uniform_int_distribution<size_t>(0, std::min<size_t>(2, n - 1))(rng)
            : std::uniform_int_distribution<size_t>(0, n - 1)(rng);
    read[k] = true;
    return values[k];
  };
  for (int i = 0; i < layers; ++i) {
    ir::Value* out;
    if (coin(rng) < 6) {
      const char* op = unary[std::uniform_int_distribution<int>(0, 5)(rng)];
      out = b.op(
          op, {pick()},
          op == std::string("Softmax") ? test::attrs({{"axis", int64_t{-1}}}) : ir::Attributes{});
    } else {
      out = b.op(binary[std::uniform_int_distribution<int>(0, 3)(rng)], {pick(), pick()});
    }
    values.push_back(out);
    read.push_back(false);
  }
  for (size_t k = 2; k < values.size(); ++k) {
    if (!read[k]) b.output(values[k]);
  }
}

TEST(FusePointwiseRandom, NeverMakesACycleAndKeepsResultsBitForBit) {
  std::mt19937 rng(2024);
  int fused = 0;
  for (int trial = 0; trial < 150; ++trial) {
    test::PassGraphBuilder b;
    random_dag(b, rng, 8 + trial % 40);
    ir::Graph& g = b.graph();
    auto copy = g.clone();
    ir::infer_graph(*copy);
    if (!fuse_pointwise(*copy)) continue;  // nothing to fuse this time
    ++fused;
    auto after = test::apply_and_compare(g, fuse_pointwise, 0);
    ASSERT_TRUE(after) << "trial " << trial;
  }
  EXPECT_GT(fused, 100);
}

}  // namespace
}  // namespace kiln::passes
