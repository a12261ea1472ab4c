// cuDNN plans stored in the plan file: a tuned CUDA build keeps the compiled cuDNN plan of each
// Conv layer whose chosen engine cuDNN can serialize, under the tactic it belongs to and the
// cuDNN version and GPU it was made for; a loaded plan reads it back (no compilation) and
// computes what the built engine computed. A stored plan for another tactic or key, or bytes
// cuDNN refuses, are not used: the layer finalizes its recorded tactic as before.
#include "backends/cuda/conv_serialized_plan.hpp"

#include <cudnn.h>
#include <gtest/gtest.h>

#include <cstring>

#include "ir/layer_tactic.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"
#include "unit/graph_run_util.hpp"

namespace kiln::cuda {
namespace {

// Two 3x3 convolutions with bias and activations (ReLU, then x * sigmoid(x)): epilogues cuDNN
// fuses with its runtime-compiled engines in FP16.
Network conv_net() {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 16, 28, 28});
  net.add_constant("w1", test::random_tensor({32, 16, 3, 3}, 1, -0.1f, 0.1f));
  net.add_constant("b1", test::random_tensor({32}, 2, -0.1f, 0.1f));
  net.add_constant("w2", test::random_tensor({32, 32, 3, 3}, 3, -0.1f, 0.1f));
  net.add_constant("b2", test::random_tensor({32}, 4, -0.1f, 0.1f));
  LayerAttributes conv = {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  auto y = net.add_layer("Conv", {"x", "w1", "b1"}, conv);
  y = net.add_layer("Relu", y);
  y = net.add_layer("Conv", {y[0], "w2", "b2"}, conv);
  auto gate = net.add_layer("Sigmoid", y);
  y = net.add_layer("Mul", {y[0], gate[0]}, {}, "y");
  net.mark_output(y[0]);
  return net;
}

std::vector<const ir::Node*> conv_layers(const Engine& engine) {
  std::vector<const ir::Node*> out;
  for (const auto& n : engine.impl().graph->nodes()) {
    if (n->op == "Conv" || n->op == "FusedConv") out.push_back(n.get());
  }
  return out;
}

struct CudnnHandle {
  cudnnHandle_t h = nullptr;
  CudnnHandle() { EXPECT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS); }
  ~CudnnHandle() { cudnnDestroy(h); }
};

// A tuned FP16 CUDA build of conv_net().
std::unique_ptr<Engine> tuned_fp16_build() {
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.fp16 = true;
  return build_engine(conv_net(), config);
}

// The engine's output for x, run again from its serialized plan: the two must agree bitwise.
void expect_plan_computes_the_same(const Engine& engine, const Tensor& x,
                                   const std::vector<Tensor>& expected) {
  std::vector<uint8_t> bytes = engine.serialize();
  auto loaded = Engine::deserialize({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  std::vector<Tensor> got = loaded->create_execution_context()->execute({{"x", x}});
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(expected[0].nbytes(), got[0].nbytes());
  EXPECT_EQ(std::memcmp(expected[0].raw(), got[0].raw(), got[0].nbytes()), 0);
}

TEST(ConvSerializedPlanGpu, TunedBuildStoresPlansThatLoadAndComputeTheSame) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  std::unique_ptr<Engine> engine = tuned_fp16_build();
  const std::string key = cudnn_plan_key(0);
  size_t stored = 0;
  CudnnHandle handle;
  for (const ir::Node* layer : conv_layers(*engine)) {
    const std::string tactic = ir::recorded_tactic(*layer);
    ASSERT_FALSE(tactic.empty()) << layer->describe();
    if (!layer->attrs.has(kCudnnPlanAttr)) continue;  // an engine cuDNN cannot serialize
    ++stored;
    EXPECT_EQ(layer->attrs.get_string(kCudnnPlanTacticAttr, ""), tactic);
    EXPECT_EQ(layer->attrs.get_string(kCudnnPlanKeyAttr, ""), key);
    EXPECT_NE(stored_cudnn_plan(*layer, tactic, key, handle.h), nullptr) << layer->describe();
    // Not for another tactic or another cuDNN/GPU.
    EXPECT_EQ(stored_cudnn_plan(*layer, tactic + "x", key, handle.h), nullptr);
    EXPECT_EQ(stored_cudnn_plan(*layer, tactic, key + " other", handle.h), nullptr);
  }
  std::cout << "stored cuDNN plans: " << stored << " of " << conv_layers(*engine).size()
            << " convolution layers\n";

  Tensor x = test::random_tensor({2, 16, 28, 28}, 9);
  expect_plan_computes_the_same(*engine, x,
                                engine->create_execution_context()->execute({{"x", x}}));
}

TEST(ConvSerializedPlanGpu, RefusedBytesFallBackToFinalizingTheTactic) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  std::unique_ptr<Engine> engine = tuned_fp16_build();
  Tensor x = test::random_tensor({2, 16, 28, 28}, 9);
  std::vector<Tensor> expected = engine->create_execution_context()->execute({{"x", x}});
  // Every Conv layer gets bytes cuDNN cannot read, under its own tactic and this GPU's key.
  const std::string key = cudnn_plan_key(0);
  for (const auto& n : engine->impl().graph->nodes()) {
    if (n->op != "Conv" && n->op != "FusedConv") continue;
    const std::string junk = "{\"not\": \"a cuDNN plan\"";
    store_cudnn_plan(*n, std::vector<char>(junk.begin(), junk.end()), ir::recorded_tactic(*n), key);
  }
  expect_plan_computes_the_same(*engine, x, expected);
}

}  // namespace
}  // namespace kiln::cuda
