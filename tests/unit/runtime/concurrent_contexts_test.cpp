// One engine run from 8 threads at once, each with its own execution context, for 10,000
// inferences in all: every output is bitwise what one context alone gives for the same input.
// Contexts share the engine's graph and weights, so a race on either (or on a backend's shared
// state) shows up as a wrong or torn output here. The CPU test runs everywhere; the GPU one where
// a CUDA device is (the GPU machine also runs it under compute-sanitizer).
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {
namespace {

constexpr int kThreads = 8;
constexpr int kRunsPerThread = 1250;  // 10,000 in all
constexpr int kInputsPerThread = 16;  // each thread cycles through its own inputs

Tensor random_tensor(std::mt19937& rng, Shape shape, float scale) {
  Tensor t(DataType::kFloat32, std::move(shape));
  std::normal_distribution<float> d(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// A small classifier: Conv + bias + Relu, Conv, Sigmoid * x (SiLU), Flatten, Gemm, Softmax. It
// exercises the convolution and matrix kernels, a fused epilogue, a fused pointwise layer and a
// reduction, with the activation arena.
Network classifier() {
  std::mt19937 rng(5);
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 3, 10, 10});
  net.add_constant("w1", random_tensor(rng, {8, 3, 3, 3}, 0.3f));
  net.add_constant("b1", random_tensor(rng, {8}, 0.1f));
  net.add_constant("w2", random_tensor(rng, {8, 8, 3, 3}, 0.2f));
  net.add_constant("fc", random_tensor(rng, {10, 8 * 5 * 5}, 0.1f));
  net.add_constant("fc_bias", random_tensor(rng, {10}, 0.1f));
  LayerAttributes conv = {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  auto y = net.add_layer("Conv", {"x", "w1", "b1"}, conv);
  y = net.add_layer("Relu", y);
  conv["strides"] = std::vector<int64_t>{2, 2};
  y = net.add_layer("Conv", {y[0], "w2"}, conv);
  auto gate = net.add_layer("Sigmoid", y);
  y = net.add_layer("Mul", {y[0], gate[0]});
  y = net.add_layer("Flatten", y);
  y = net.add_layer("Gemm", {y[0], "fc", "fc_bias"}, {{"transB", int64_t{1}}});
  y = net.add_layer("Softmax", y, {{"axis", int64_t{1}}}, "prob");
  net.mark_output(y[0]);
  return net;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Runs the engine from kThreads threads, each on its own context and inputs, and counts the
// outputs that differ in any bit from one context's results for the same inputs.
void expect_concurrent_runs_match_one_context(Backend backend) {
  BuilderConfig config;
  config.backend = backend;
  std::unique_ptr<Engine> engine = build_engine(classifier(), config);

  std::mt19937 rng(11);
  std::vector<std::vector<Tensor>> inputs(kThreads);
  for (auto& mine : inputs) {
    for (int k = 0; k < kInputsPerThread; ++k)
      mine.push_back(random_tensor(rng, {1, 3, 10, 10}, 1));
  }
  std::vector<std::vector<Tensor>> expected(kThreads);
  {
    std::unique_ptr<ExecutionContext> alone = engine->create_execution_context();
    for (int t = 0; t < kThreads; ++t) {
      for (const Tensor& x : inputs[t]) {
        std::vector<Tensor> out = alone->execute({{"x", x}});
        ASSERT_EQ(out.size(), 1u);
        expected[t].push_back(out[0].clone());  // an arena run's outputs are overwritten later
      }
    }
  }

  std::atomic<int> runs{0}, mismatches{0}, started{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // One kernel thread per context: 8 contexts already keep the cores busy, and oversubscribing
      // OpenMP teams would only slow the test down.
      omp_set_num_threads(1);
      try {
        std::unique_ptr<ExecutionContext> context = engine->create_execution_context();
        // Start together, so that the runs overlap from the first.
        ++started;
        while (started.load() < kThreads) std::this_thread::yield();
        for (int r = 0; r < kRunsPerThread; ++r) {
          const int k = (r * 7 + t) % kInputsPerThread;
          std::vector<Tensor> out = context->execute({{"x", inputs[t][k]}});
          if (out.size() != 1 || !same_bits(out[0], expected[t][k])) ++mismatches;
          ++runs;
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  EXPECT_EQ(runs.load(), kThreads * kRunsPerThread);
  EXPECT_EQ(mismatches.load(), 0) << "of " << runs.load() << " runs";
}

TEST(ConcurrentContexts, EightThreadsMatchOneContextBitwise) {
  expect_concurrent_runs_match_one_context(Backend::kCpu);
}

TEST(ConcurrentContexts, GpuEightThreadsMatchOneContextBitwise) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  expect_concurrent_runs_match_one_context(Backend::kCuda);
}

}  // namespace
}  // namespace kiln
