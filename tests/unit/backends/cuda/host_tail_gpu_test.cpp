// Split engines on the GPU: the GPU part, then the host part on its outputs, match the CPU engine
// of the same network (through a plan round trip and CUDA graphs too), and enqueue() explains why
// it cannot run them. Skips without a GPU.
#include <gtest/gtest.h>

#include <random>

#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"

namespace kiln::test {
namespace {

// conv-like work on the GPU (MatMul, Relu), then NonZero and a Gather of the selected scores on
// the host: the shape of post-processing in a detector.
Network scores_then_selection() {
  Network net;
  net.add_input("x", DataType::kFloat32, {16, 32});
  std::vector<float> w(32 * 8);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : w) v = dist(rng);
  net.add_constant("w", Tensor::from_vector(DataType::kFloat32, {32, 8}, w));
  auto scores = net.add_layer("MatMul", {"x", "w"}, {}, "scores")[0];
  auto kept = net.add_layer("Relu", {scores}, {}, "kept")[0];
  auto flat = net.add_layer("Flatten", {kept}, {{"axis", int64_t{0}}}, "flat")[0];
  auto nz = net.add_layer("NonZero", {kept}, {}, "nz")[0];
  auto where = net.add_layer("NonZero", {flat}, {}, "where")[0];   // [2, n]
  auto rows = net.add_layer("Transpose", {where}, {}, "rows")[0];  // [n, 2]
  auto picked = net.add_layer("GatherND", {flat, rows}, {}, "picked")[0];
  net.mark_output(nz);
  net.mark_output(picked);
  net.mark_output(kept);
  return net;
}

void expect_equal_outputs(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].dtype(), want[o].dtype()) << "output " << o;
    ASSERT_EQ(got[o].shape(), want[o].shape()) << "output " << o;
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      if (got[o].dtype() == DataType::kInt64) {
        ASSERT_EQ(got[o].data<int64_t>()[i], want[o].data<int64_t>()[i]) << o << " " << i;
      } else {
        ASSERT_NEAR(got[o].data<float>()[i], want[o].data<float>()[i], 1e-4) << o << " " << i;
      }
    }
  }
}

TEST(HostTailGpu, ASplitEngineMatchesTheCpuEngine) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  Network net = scores_then_selection();
  BuilderConfig cpu_config;
  auto cpu = build_engine(net, cpu_config)->create_execution_context();
  BuilderConfig gpu_config;
  gpu_config.backend = Backend::kCuda;
  gpu_config.tf32 = false;  // the 1e-4 tolerance is for FP32 math
  std::unique_ptr<Engine> built = build_engine(net, gpu_config);
  ASSERT_TRUE(built->impl().host_tail);
  std::vector<uint8_t> bytes = built->serialize();
  std::unique_ptr<Engine> loaded =
      Engine::deserialize({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (Engine* engine : {built.get(), loaded.get()}) {
    auto ctx = engine->create_execution_context();
    ctx->set_cuda_graph(true);
    for (int run = 0; run < 3; ++run) {  // a different number of selections each run
      std::vector<float> xs(16 * 32);
      for (float& v : xs) v = dist(rng);
      std::map<std::string, Tensor> in{
          {"x", Tensor::from_vector(DataType::kFloat32, {16, 32}, xs)}};
      expect_equal_outputs(ctx->execute(in), cpu->execute(in));
    }
    try {
      ctx->enqueue({}, nullptr);
      FAIL() << "enqueue() ran a split engine";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      EXPECT_NE(std::string(e.what()).find("execute()"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kiln::test
