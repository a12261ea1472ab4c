// Layers without a CUDA kernel, or whose CUDA kernel refuses them, run by the host fallback against
// the CPU reference (they run the same CPU kernel, so results match up to the input/output
// copies), and an engine with such a layer between CUDA layers replayed through a CUDA graph.
// Skips without a GPU.
#include <gtest/gtest.h>

#include <random>

#include "kiln/kiln.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;

TEST(HostFallbackGpu, LayersWithoutACudaKernelMatchTheCpu) {
  std::vector<GpuCase> cases;
  for (DT t : {DT::kFloat32, DT::kFloat16}) {
    cases.push_back(make_case("LRN", {input(t, {2, 6, 5, 7})}, attrs({{"size", int64_t{3}}})));
    cases.push_back(make_case("ConvTranspose", {input(t, {1, 4, 6, 6}), input(t, {4, 3, 3, 3})},
                              attrs({{"strides", ir::AttrValue(std::vector<int64_t>{2, 2})}})));
  }
  run_table(cases);
}

// Layers whose CUDA kernel refuses them (a type it lacks) run their CPU kernel on the host.
TEST(HostFallbackGpu, LayersTheCudaKernelRefusesRunOnTheHost) {
  std::vector<GpuCase> cases;
  GpuInput exponent = input(DT::kUInt32, {2, 3}, 0, 3);
  exponent.values = {0, 1, 2, 3, 1, 2};
  cases.push_back(make_case("Pow", {input(DT::kFloat32, {2, 3}, 0.5, 2), exponent}));
  GpuInput flags = input(DT::kBool, {3, 4});
  flags.values = {1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0};
  cases.push_back(make_case("ReduceMax", {flags}, attrs({{"keepdims", int64_t{0}}})));
  run_table(cases);
}

TEST(HostFallbackGpu, AHostLayerBetweenCudaLayersReplaysInACudaGraph) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4, 8, 8});
  auto r = net.add_layer("Relu", {"x"})[0];
  auto l = net.add_layer("LRN", {r}, {{"size", int64_t{3}}})[0];
  auto y = net.add_layer("Sigmoid", {l}, {}, "y")[0];
  net.mark_output(y);
  BuilderConfig cpu_config;
  auto cpu = build_engine(net, cpu_config);
  BuilderConfig gpu_config;
  gpu_config.backend = Backend::kCuda;
  auto gpu = build_engine(net, gpu_config);
  auto ctx = gpu->create_execution_context();
  ctx->set_cuda_graph(true);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int run = 0; run < 3; ++run) {  // the second and third replay the captured graph
    std::vector<float> xs(4 * 8 * 8);
    for (float& v : xs) v = dist(rng);
    Tensor x = Tensor::from_vector(DataType::kFloat32, {1, 4, 8, 8}, xs);
    Tensor want = cpu->create_execution_context()->execute({{"x", x}})[0];
    Tensor got = ctx->execute({{"x", x}})[0];
    for (int64_t i = 0; i < want.numel(); ++i) {
      ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-5) << "run " << run << " " << i;
    }
  }
}

// A host layer's CPU kernel fails after enqueue() returned (here: training-mode dropout, known
// only from a runtime input). execute() reports that failure, with the CPU kernel's error code,
// instead of returning the output the layer never wrote; the next run starts clean.
TEST(HostFallbackGpu, AHostLayerThatFailsMakesExecuteThrow) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 3});
  net.add_input("training", DataType::kBool, {});
  net.add_constant("ratio", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.5f}));
  auto y = net.add_layer("Dropout", {"x", "ratio", "training"}, {}, "y")[0];
  net.mark_output(y);
  BuilderConfig config;
  config.backend = Backend::kCuda;
  auto ctx = build_engine(net, config)->create_execution_context();
  Tensor x = Tensor::from_vector(DataType::kFloat32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  try {
    ctx->execute({{"x", x},
                  {"training", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{1})}});
    FAIL() << "training-mode dropout ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("training-mode dropout"), std::string::npos) << e.what();
  }
  Tensor y_eval = ctx->execute(
      {{"x", x},
       {"training", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{0})}})[0];
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y_eval.data<float>()[i], x.data<float>()[i]);
}

}  // namespace
}  // namespace kiln::test
