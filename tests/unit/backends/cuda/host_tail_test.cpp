// Split engines (build/host_tail.hpp) as the builder makes them for the CUDA backend and as plans
// carry them: which layers run on the host, the engine's inputs and outputs (the whole model's,
// not the GPU part's), and a plan round trip. Host-only: building needs no GPU.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

// x[2,8] -> Relu -> r -> NonZero -> Transpose -> idx (data-dependent), and r -> Sigmoid -> s.
Network detection_like() {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 8});
  auto r = net.add_layer("Relu", {"x"}, {}, "r")[0];
  auto nz = net.add_layer("NonZero", {r}, {}, "nz")[0];
  auto idx = net.add_layer("Transpose", {nz}, {}, "idx")[0];
  auto s = net.add_layer("Sigmoid", {r}, {}, "s")[0];
  net.mark_output(idx);
  net.mark_output(s);
  return net;
}

std::unique_ptr<Engine> build_cuda(const Network& net) {
  BuilderConfig config;
  config.backend = Backend::kCuda;
  return build_engine(net, config);
}

TEST(HostTail, CudaBuildRunsTheDataDependentLayersOnTheHost) {
  std::unique_ptr<Engine> engine = build_cuda(detection_like());
  ASSERT_TRUE(engine->impl().host_tail);
  EXPECT_NE(engine->impl().host_tail_reason.find("nz"), std::string::npos);
  std::vector<std::string> host, device;
  for (const LayerInfo& l : engine->layers()) (l.on_host ? host : device).push_back(l.op);
  EXPECT_EQ(host, (std::vector<std::string>{"NonZero", "Transpose"}));
  // Relu and Sigmoid (fused into one pointwise layer or not) run on the GPU.
  ASSERT_FALSE(device.empty());
  for (const std::string& op : device)
    EXPECT_TRUE(op == "Pointwise" || op == "Relu" || op == "Sigmoid") << op;
  // The engine's inputs and outputs are the model's, in its order; idx has a data-dependent dim.
  ASSERT_EQ(engine->inputs().size(), 1u);
  EXPECT_EQ(engine->inputs()[0].name, "x");
  ASSERT_EQ(engine->outputs().size(), 2u);
  EXPECT_EQ(engine->outputs()[0].name, "idx");
  EXPECT_EQ(engine->outputs()[0].dtype, DataType::kInt64);
  EXPECT_EQ(engine->outputs()[1].name, "s");
  EXPECT_EQ(engine->outputs()[1].dims, (std::vector<int64_t>{2, 8}));
}

TEST(HostTail, ASplitPlanLoadsAsTheSameSplitEngine) {
  std::unique_ptr<Engine> built = build_cuda(detection_like());
  std::vector<uint8_t> bytes = built->serialize();
  std::unique_ptr<Engine> loaded =
      Engine::deserialize({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(loaded->impl().host_tail);
  EXPECT_EQ(loaded->impl().host_tail_reason, built->impl().host_tail_reason);
  ASSERT_EQ(loaded->layers().size(), built->layers().size());
  for (size_t i = 0; i < loaded->layers().size(); ++i) {
    EXPECT_EQ(loaded->layers()[i].name, built->layers()[i].name);
    EXPECT_EQ(loaded->layers()[i].on_host, built->layers()[i].on_host);
  }
  ASSERT_EQ(loaded->outputs().size(), 2u);
  EXPECT_EQ(loaded->outputs()[0].name, "idx");
  EXPECT_EQ(loaded->outputs()[1].name, "s");
  EXPECT_EQ(loaded->inputs()[0].name, "x");
}

TEST(HostTail, NamesThatBelongToNeitherPartAreRefused) {
  std::unique_ptr<Engine> built = build_cuda(detection_like());
  Engine::Impl impl;
  impl.graph = built->impl().graph;
  impl.backend = Backend::kCuda;
  try {
    attach_host_tail(impl, built->impl().host_tail, "why", {"x"}, {"idx", "nope"},
                     ErrorCode::kInvalidPlan);
    FAIL() << "an output of neither part was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(attach_host_tail(impl, built->impl().host_tail, "why", {"r"}, {"idx"},
                                ErrorCode::kInvalidPlan),
               Error);  // r is the GPU part's output, not an engine input
}

// Every layer data-dependent from the first: the whole engine runs on the host, so it runs (and
// matches the CPU engine) on machines without a GPU too, and enqueue() still explains itself.
TEST(HostTail, AnEngineWithNothingForTheGpuRunsWhollyOnTheHost) {
  Network net;
  net.add_input("x", DataType::kFloat32, {3, 4});
  auto nz = net.add_layer("NonZero", {"x"}, {}, "nz")[0];
  net.mark_output(net.add_layer("Transpose", {nz}, {}, "idx")[0]);
  std::unique_ptr<Engine> built = build_cuda(net);
  ASSERT_TRUE(built->impl().host_tail);
  EXPECT_TRUE(built->impl().graph->nodes().empty());
  std::vector<uint8_t> bytes = built->serialize();
  std::unique_ptr<Engine> loaded =
      Engine::deserialize({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  Tensor x = Tensor::from_vector(DataType::kFloat32, {3, 4},
                                 std::vector<float>{0, 1, 0, 2, 3, 0, 0, 0, 4, 5, 0, 6});
  BuilderConfig cpu;
  Tensor want = build_engine(net, cpu)->create_execution_context()->execute({{"x", x}})[0];
  for (Engine* engine : {built.get(), loaded.get()}) {
    auto ctx = engine->create_execution_context();
    ctx->set_cuda_graph(true);  // nothing to capture: accepted
    Tensor got = ctx->execute({{"x", x}})[0];
    ASSERT_EQ(got.shape(), want.shape());
    ASSERT_EQ(got.shape(), (Shape{6, 2}));
    for (int64_t i = 0; i < got.numel(); ++i) {
      EXPECT_EQ(got.data<int64_t>()[i], want.data<int64_t>()[i]) << i;
    }
    EXPECT_THROW(ctx->enqueue({}, nullptr), Error);
  }
}

TEST(HostTail, StaticCudaBuildsAreNotSplit) {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 8});
  net.mark_output(net.add_layer("Relu", {"x"}, {}, "y")[0]);
  std::unique_ptr<Engine> engine = build_cuda(net);
  EXPECT_FALSE(engine->impl().host_tail);
  for (const LayerInfo& l : engine->layers()) EXPECT_FALSE(l.on_host);
}

}  // namespace
}  // namespace kiln
