// GPU engines under concurrency and custom memory: many contexts of one engine enqueued at once
// from their own threads on their own streams (CUDA graphs on and off) each get their own
// inputs' results; an application's DeviceAllocator gives every device byte; a plan built on the
// GPU records each tuned layer's tactic and loads without tuning. Skips without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include "kiln/device_allocator.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"

namespace kiln {
namespace {

// y = Softmax(Relu(x W + b)) over 64 features: a cuBLASLt layer, an epilogue and a row kernel.
std::unique_ptr<Engine> small_engine(Backend backend, size_t workspace_limit = size_t{1} << 30) {
  Network net;
  net.add_input("x", DataType::kFloat32, {16, 64});
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.2f);
  std::vector<float> w(64 * 64), b(64);
  for (float& v : w) v = dist(rng);
  for (float& v : b) v = dist(rng);
  net.add_constant("w", Tensor::from_vector(DataType::kFloat32, {64, 64}, w));
  net.add_constant("b", Tensor::from_vector(DataType::kFloat32, {64}, b));
  auto mm = net.add_layer("MatMul", {"x", "w"})[0];
  auto add = net.add_layer("Add", {mm, "b"})[0];
  auto relu = net.add_layer("Relu", {add})[0];
  auto y = net.add_layer("Softmax", {relu}, {{"axis", int64_t{-1}}}, "y")[0];
  net.mark_output(y);
  BuilderConfig config;
  config.backend = backend;
  config.tf32 = false;
  config.workspace_limit = workspace_limit;
  return build_engine(net, config);
}

Tensor input_for(int seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(16 * 64);
  for (float& v : x) v = dist(rng);
  return Tensor::from_vector(DataType::kFloat32, {16, 64}, x);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  }
  return d;
}

TEST(CudaContextsGpu, ManyContextsOnTheirOwnStreamsAndThreadsGetTheirOwnResults) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  auto cpu = small_engine(Backend::kCpu);
  auto gpu = small_engine(Backend::kCuda);
  constexpr int kThreads = 6, kRuns = 20;
  std::vector<Tensor> expected;
  auto cpu_ctx = cpu->create_execution_context();
  for (int t = 0; t < kThreads; ++t) expected.push_back(cpu_ctx->execute({{"x", input_for(t)}})[0]);
  std::vector<double> worst(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        auto ctx = gpu->create_execution_context();
        ctx->set_cuda_graph(t % 2 == 0);
        cudaStream_t stream = nullptr;
        cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
        Tensor x = input_for(t);
        void *dx = nullptr, *dy = nullptr;
        cudaMalloc(&dx, x.nbytes());
        cudaMalloc(&dy, x.nbytes());
        cudaMemcpy(dx, x.raw(), x.nbytes(), cudaMemcpyHostToDevice);
        Tensor y(DataType::kFloat32, {16, 64});
        for (int i = 0; i < kRuns; ++i) {
          cudaMemsetAsync(dy, 0, y.nbytes(), stream);
          ctx->enqueue({{"x", dx}, {"y", dy}}, stream);
          cudaMemcpyAsync(y.raw(), dy, y.nbytes(), cudaMemcpyDeviceToHost, stream);
          cudaStreamSynchronize(stream);
          worst[t] = std::max(worst[t], max_abs_diff(y, expected[t]));
        }
        cudaFree(dx);
        cudaFree(dy);
        cudaStreamDestroy(stream);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    EXPECT_LT(worst[t], 1e-5) << "thread " << t;
  }
}

class CountingAllocator final : public DeviceAllocator {
 public:
  void* allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) return nullptr;
    live += 1;
    total_bytes += bytes;
    return p;
  }
  void deallocate(void* p) noexcept override {
    cudaFree(p);
    live -= 1;
  }
  std::atomic<int64_t> live{0};
  std::atomic<size_t> total_bytes{0};
};

TEST(CudaContextsGpu, TheApplicationsAllocatorGivesEveryDeviceByte) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  CountingAllocator allocator;
  set_device_allocator(&allocator);
  {
    auto gpu = small_engine(Backend::kCuda);
    auto ctx = gpu->create_execution_context();
    auto out = ctx->execute({{"x", input_for(1)}});
    EXPECT_GT(allocator.total_bytes.load(), size_t{16 * 64 * 4});
    EXPECT_GT(allocator.live.load(), 0);
  }
  set_device_allocator(nullptr);
  EXPECT_EQ(allocator.live.load(), 0);  // everything went back to it
}

TEST(CudaContextsGpu, PlanRecordsEachTunedLayersTacticAndLoadsWithoutTuning) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = small_engine(Backend::kCuda);
  size_t recorded = 0;
  for (const auto& n : gpu->impl().graph->nodes()) recorded += n->attrs.has("tactic");
  EXPECT_GE(recorded, 1u);  // the MatMul layer at least
  auto loaded = Engine::deserialize([&] {
    auto bytes = gpu->serialize();
    return std::string(bytes.begin(), bytes.end());
  }());
  EXPECT_FALSE(loaded->impl().tune_tactics);
  size_t kept = 0;
  for (const auto& n : loaded->impl().graph->nodes()) kept += n->attrs.has("tactic");
  EXPECT_EQ(kept, recorded);
  auto cpu = small_engine(Backend::kCpu);
  Tensor want = cpu->create_execution_context()->execute({{"x", input_for(3)}})[0];
  Tensor got = loaded->create_execution_context()->execute({{"x", input_for(3)}})[0];
  EXPECT_LT(max_abs_diff(got, want), 1e-5);
}

TEST(CudaContextsGpu, AWorkspaceLimitNoTacticFitsFailsNamingTheLayer) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  // A limit of 0 bytes still admits tactics that need no workspace; the build must either use
  // one of those or fail naming the layer, never exceed the limit.
  try {
    auto gpu = small_engine(Backend::kCuda, 0);
    Tensor got = gpu->create_execution_context()->execute({{"x", input_for(4)}})[0];
    auto cpu = small_engine(Backend::kCpu);
    Tensor want = cpu->create_execution_context()->execute({{"x", input_for(4)}})[0];
    EXPECT_LT(max_abs_diff(got, want), 1e-5);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("workspace"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
