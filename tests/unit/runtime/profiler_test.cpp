// Per-layer profiling (kiln/profiler.hpp) on the CPU: every run reports each layer once, in the
// order they ran, with the layer's name and op; times add up to no more than the run; removing
// the profiler stops the reports.
#include <gtest/gtest.h>

#include <chrono>

#include "kiln/kiln.hpp"
#include "kiln/profiler.hpp"

namespace kiln {
namespace {

struct Recorder final : Profiler {
  std::vector<std::pair<std::string, std::string>> layers;
  double total_ms = 0;
  void report_layer_time(const LayerTiming& t) override {
    layers.emplace_back(std::string(t.name), std::string(t.op));
    EXPECT_GE(t.milliseconds, 0);
    total_ms += t.milliseconds;
  }
};

std::unique_ptr<Engine> three_layers() {
  Network net;
  net.add_input("x", DataType::kFloat32, {64, 64});
  net.add_layer("MatMul", {"x", "x"}, {}, "mm");
  net.add_layer("Exp", {"mm"}, {}, "e");
  net.mark_output(net.add_layer("Softmax", {"e"}, {}, "s")[0]);
  BuilderConfig config;
  config.optimization_level = 0;
  return build_engine(net, config);
}

TEST(Profiler, CpuRunsReportEveryLayerInOrder) {
  auto engine = three_layers();
  auto context = engine->create_execution_context();
  Recorder r;
  context->set_profiler(&r);
  std::map<std::string, Tensor> inputs = {{"x", Tensor(DataType::kFloat32, {64, 64})}};
  auto start = std::chrono::steady_clock::now();
  context->execute(inputs);
  double run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::pair<std::string, std::string>> want = {
      {"mm", "MatMul"}, {"e", "Exp"}, {"s", "Softmax"}};
  EXPECT_EQ(r.layers, want);
  EXPECT_LE(r.total_ms, run_ms);
  context->execute(inputs);
  EXPECT_EQ(r.layers.size(), 6u);  // once per layer per run
  context->set_profiler(nullptr);
  context->execute(inputs);
  EXPECT_EQ(r.layers.size(), 6u);
}

TEST(Profiler, CpuContextsAreTheirOwnDevicePart) {
  auto engine = three_layers();
  auto context = engine->create_execution_context();
  EXPECT_EQ(context->device_part(), context.get());
}

}  // namespace
}  // namespace kiln
