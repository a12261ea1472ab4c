// The build pipeline scales with the number of layers: defining a network, every pass, layout,
// precision, memory planning and plan writing stay near-linear on a chain of 100,000 layers, a
// tensor read by 100,000 layers, Concat/Sum layers of 100,000 inputs, and a 100,000-layer chain
// that constant folding collapses. Each is a scaling guard, not a benchmark: a pass quadratic in
// the number of layers takes minutes at this size, and the bounds are loose enough for a loaded
// 2-core machine. They count the process's CPU time, not the wall clock, so other work on the
// machine does not make them fail. The built engines run once, on small tensors, to show the
// result is still right.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {
namespace {

constexpr int kLarge = 100000;
constexpr int kSmall = 10000;
// CPU seconds the large build may take (about 4 on a 2-core machine).
constexpr double kLargeBuildLimitSeconds = 10.0;
// Ten times the layers may cost at most this many times as much, plus a second for the noise of
// a small measurement: near-linear work measures 15-25 times (the large graphs miss the caches
// the small ones fit in); quadratic work would be 100 times.
constexpr double kGrowthLimit = 30.0;
constexpr double kNoiseSeconds = 1.0;

Tensor scalar(float v) {
  return Tensor::from_vector(DataType::kFloat32, {1}, std::vector<float>{v});
}

Tensor row(const std::vector<float>& values) {
  return Tensor::from_vector(DataType::kFloat32, {1, static_cast<int64_t>(values.size())}, values);
}

// x -> (Add 1, Relu) repeated: `layers` layers. Every layer changes the result, so a layer lost
// or run twice shows: the output is max(x + 1, 0) + (layers / 2 - 1).
Network add_relu_chain(int layers) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4});
  net.add_constant("one", scalar(1.0f));
  std::string y = "x";
  for (int i = 0; i < layers; i += 2) {
    y = net.add_layer("Add", {y, "one"})[0];
    y = net.add_layer("Relu", {y})[0];
  }
  net.mark_output(y);
  return net;
}

// The same chain on a constant, which constant folding collapses, added to x at the end: the
// output is x + (layers / 2 - 1) + max(c + 1, 0).
Network folded_chain(int layers) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4});
  net.add_constant("one", scalar(1.0f));
  net.add_constant("c", row({-3.0f, -0.5f, 0.25f, 2.0f}));
  std::string y = "c";
  for (int i = 0; i < layers; i += 2) {
    y = net.add_layer("Add", {y, "one"})[0];
    y = net.add_layer("Relu", {y})[0];
  }
  net.mark_output(net.add_layer("Add", {"x", y}, {}, "y")[0]);
  return net;
}

// x read by `layers` layers x * c_i, each a network output.
Network fan_out(int layers) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4});
  for (int i = 0; i < layers; ++i) {
    std::string c = "c" + std::to_string(i);
    net.add_constant(c, scalar(static_cast<float>(i % 97)));
    net.mark_output(net.add_layer("Mul", {"x", c})[0]);
  }
  return net;
}

// x -> `layers` layers x * c_i -> one Concat of all of them and one Sum of all of them.
Network fan_in(int layers) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4});
  std::vector<std::string> parts;
  for (int i = 0; i < layers; ++i) {
    std::string c = "c" + std::to_string(i);
    net.add_constant(c, scalar(static_cast<float>(i % 5)));
    parts.push_back(net.add_layer("Mul", {"x", c})[0]);
  }
  net.mark_output(net.add_layer("Concat", parts, {{"axis", int64_t{0}}}, "concat")[0]);
  net.mark_output(net.add_layer("Sum", parts, {}, "sum")[0]);
  return net;
}

double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

struct Built {
  std::unique_ptr<Engine> engine;
  double build_seconds = 0;  // build_engine alone
  double seconds = 0;        // defining the network, building it and writing its plan
};

Built timed_build(const std::function<Network(int)>& define, int layers) {
  const double start = cpu_seconds();
  Network net = define(layers);
  BuilderConfig config;
  config.backend = Backend::kCpu;
  Built b;
  const double build_start = cpu_seconds();
  b.engine = build_engine(net, config);
  b.build_seconds = cpu_seconds() - build_start;
  EXPECT_FALSE(b.engine->serialize().empty());
  b.seconds = cpu_seconds() - start;
  return b;
}

// Builds the network at both sizes and checks the bounds; returns the large engine.
std::unique_ptr<Engine> build_both_sizes(const std::function<Network(int)>& define) {
  Built small = timed_build(define, kSmall);
  Built large = timed_build(define, kLarge);
  std::printf("[ scaling  ] %d layers: %.2f CPU s; %d layers: %.2f CPU s (build_engine %.2f)\n",
              kSmall, small.seconds, kLarge, large.seconds, large.build_seconds);
  EXPECT_LT(large.build_seconds, kLargeBuildLimitSeconds) << kLarge << " layers";
  EXPECT_LT(large.seconds, kGrowthLimit * small.seconds + kNoiseSeconds)
      << kSmall << " layers took " << small.seconds << " CPU s, " << kLarge << " took "
      << large.seconds << " CPU s";
  return std::move(large.engine);
}

// Runs a chain engine of kLarge layers on `x`: every (Add 1, Relu) pair after the first adds 1,
// so the output is `first_pair` (what a chain of one pair gives) plus kLarge / 2 - 1.
void expect_chain_output(const std::unique_ptr<Engine>& engine, const std::vector<float>& x,
                         const std::vector<float>& first_pair) {
  std::vector<Tensor> out = engine->create_execution_context()->execute({{"x", row(x)}});
  ASSERT_EQ(out.size(), 1u);
  const float added = kLarge / 2 - 1;
  for (size_t i = 0; i < first_pair.size(); ++i) {
    EXPECT_EQ(out[0].data<float>()[i], first_pair[i] + added) << i;
  }
}

TEST(BuildScaling, ChainOfAHundredThousandLayers) {
  expect_chain_output(build_both_sizes(add_relu_chain), {-3.0f, -0.5f, 0.25f, 2.0f},
                      {0.0f, 0.5f, 1.25f, 3.0f});
}

TEST(BuildScaling, ConstantChainOfAHundredThousandLayersFolds) {
  expect_chain_output(build_both_sizes(folded_chain), {1.0f, 1.0f, 1.0f, 1.0f},
                      {1.0f, 1.5f, 2.25f, 4.0f});
}

TEST(BuildScaling, TensorReadByAHundredThousandLayers) {
  std::unique_ptr<Engine> engine = build_both_sizes(fan_out);
  ASSERT_EQ(engine->outputs().size(), static_cast<size_t>(kLarge));
  std::vector<Tensor> out =
      engine->create_execution_context()->execute({{"x", row({1.0f, -2.0f, 0.5f, 4.0f})}});
  ASSERT_EQ(out.size(), static_cast<size_t>(kLarge));
  for (int i : {0, 1, 96, 97, kLarge / 2, kLarge - 1}) {
    const auto c = static_cast<float>(i % 97);
    EXPECT_EQ(out[static_cast<size_t>(i)].data<float>()[1], -2.0f * c) << "output " << i;
  }
}

TEST(BuildScaling, ConcatAndSumOfAHundredThousandInputs) {
  std::unique_ptr<Engine> engine = build_both_sizes(fan_in);
  std::vector<Tensor> out =
      engine->create_execution_context()->execute({{"x", row({1.0f, -2.0f, 0.5f, 4.0f})}});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].shape(), (Shape{kLarge, 4}));
  for (int i : {0, 1, 4, 5, kLarge - 1}) {
    EXPECT_EQ(out[0].data<float>()[4 * i + 3], 4.0f * static_cast<float>(i % 5)) << "row " << i;
  }
  // Sum of x * (i % 5): x * (0 + 1 + 2 + 3 + 4) * kLarge / 5, exact in float for these values.
  ASSERT_EQ(out[1].shape(), (Shape{1, 4}));
  EXPECT_EQ(out[1].data<float>()[2], 0.5f * 10.0f * (kLarge / 5));
}

}  // namespace
}  // namespace kiln
