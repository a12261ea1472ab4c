// The public inspector and profiler on CUDA engines: a split engine's host layers, reason and
// device-part tensors (host-only: building needs no GPU), an engine with nothing for the GPU
// profiled on the host, and per-layer CUDA event timing of enqueue() where a GPU is.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "kiln/inspector.hpp"
#include "kiln/profiler.hpp"

namespace kiln {
namespace {

std::unique_ptr<Engine> build_cuda(const Network& net) {
  BuilderConfig config;
  config.backend = Backend::kCuda;
  return build_engine(net, config);
}

std::vector<std::string> names(const std::vector<TensorDesc>& ts) {
  std::vector<std::string> out;
  for (const TensorDesc& t : ts) out.push_back(t.name);
  return out;
}

struct Recorder final : Profiler {
  std::vector<std::string> layers;
  void report_layer_time(const LayerTiming& t) override {
    layers.emplace_back(t.name);
    EXPECT_GE(t.milliseconds, 0) << t.name;
  }
};

TEST(SplitEngineInspector, ShowsTheHostLayersAndTheDevicePartTensors) {
  // x -> Relu -> r -> NonZero -> nz (data-dependent) -> Transpose -> idx; r -> Sigmoid -> s.
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 8});
  net.add_layer("Relu", {"x"}, {}, "r");
  net.add_layer("NonZero", {"r"}, {}, "nz");
  net.mark_output(net.add_layer("Transpose", {"nz"}, {}, "idx")[0]);
  net.mark_output(net.add_layer("Sigmoid", {"r"}, {}, "s")[0]);
  EngineInformation info = inspect_engine(*build_cuda(net));
  EXPECT_NE(info.host_part_reason.find("nz"), std::string::npos) << info.host_part_reason;
  ASSERT_GE(info.layers.size(), 3u);
  const LayerInformation& last = info.layers.back();
  EXPECT_EQ(last.op, "Transpose");
  EXPECT_TRUE(last.on_host);
  EXPECT_EQ(info.layers[info.layers.size() - 2].op, "NonZero");
  EXPECT_FALSE(info.layers.front().on_host);
  EXPECT_EQ(names(info.inputs), (std::vector<std::string>{"x"}));
  EXPECT_EQ(names(info.outputs), (std::vector<std::string>{"idx", "s"}));
  // The GPU part reads x and hands r to the host layers besides its own output s.
  EXPECT_EQ(names(info.device_part_inputs), (std::vector<std::string>{"x"}));
  std::vector<std::string> device_out = names(info.device_part_outputs);
  EXPECT_NE(std::find(device_out.begin(), device_out.end(), "r"), device_out.end());
  EXPECT_EQ(info.statistics.op_histogram.count("NonZero"), 0u);  // statistics: GPU part only
}

TEST(SplitEngineInspector, AnEngineWithNothingForTheGpuProfilesItsHostLayers) {
  Network net;
  net.add_input("x", DataType::kFloat32, {3, 4});
  net.add_layer("NonZero", {"x"}, {}, "nz");
  net.mark_output(net.add_layer("Transpose", {"nz"}, {}, "idx")[0]);
  auto engine = build_cuda(net);
  auto context = engine->create_execution_context();
  EXPECT_EQ(context->device_part(), nullptr);
  Recorder r;
  context->set_profiler(&r);
  context->execute({{"x", Tensor(DataType::kFloat32, {3, 4})}});
  EXPECT_EQ(r.layers, (std::vector<std::string>{"nz", "idx"}));
}

// Owns device memory for one binding.
struct DeviceBytes {
  void* p = nullptr;
  explicit DeviceBytes(size_t n) { EXPECT_EQ(cudaMalloc(&p, n), cudaSuccess); }
  ~DeviceBytes() { cudaFree(p); }
};

TEST(ProfilerGpu, EnqueueReportsEveryLaunchedLayerEvenWithACudaGraph) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  // Softmax -> Transpose -> GlobalAveragePool: three layers no pass fuses.
  Network net;
  net.add_input("x", DataType::kFloat32, {4, 4, 8, 8});
  net.add_layer("Softmax", {"x"}, {{"axis", int64_t{1}}}, "soft");
  net.add_layer("Transpose", {"soft"}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}}, "t");
  net.mark_output(net.add_layer("GlobalAveragePool", {"t"}, {}, "y")[0]);
  auto engine = build_cuda(net);
  EngineInformation info = inspect_engine(*engine);
  std::vector<std::string> launched;
  for (const LayerInformation& l : info.layers) {
    if (l.execution == LayerExecution::kKernel) launched.push_back(l.name);
  }
  auto context = engine->create_execution_context();
  context->set_cuda_graph(true);
  ASSERT_EQ(context->device_part(), context.get());
  DeviceBytes x(4 * 4 * 8 * 8 * 4), y(4 * 4 * 4);
  std::map<std::string, void*> bindings = {{"x", x.p}, {"y", y.p}};
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  context->enqueue(bindings, stream);  // captures the graph
  Recorder r;
  context->set_profiler(&r);
  context->enqueue(bindings, stream);  // reported before it returns
  EXPECT_EQ(r.layers, launched);
  context->enqueue(bindings, stream);
  EXPECT_EQ(r.layers.size(), 2 * launched.size());
  context->set_profiler(nullptr);
  context->enqueue(bindings, stream);  // the graph again, no reports
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(r.layers.size(), 2 * launched.size());
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace kiln
