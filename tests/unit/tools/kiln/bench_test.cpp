// `kiln bench`: statistics, the timing loop, and the command's report on small CPU models — fields
// present and consistent, iteration counts honoured, JSON well formed, profile shares summing to
// 100% — plus its usage errors. Timing values themselves are never asserted.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench_model.hpp"
#include "bench_runner.hpp"
#include "bench_stats.hpp"
#include "core/error.hpp"
#include "kiln/inspector.hpp"
#include "kiln/kiln.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

using nlohmann::json;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ---- statistics ----

TEST(BenchStats, PercentilesInterpolateBetweenClosestRanks) {
  // The values NumPy's np.percentile gives (linear method).
  std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(tools::percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(tools::percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(tools::percentile(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(tools::percentile(v, 100), 4);
  std::vector<double> w = {10, 20, 30, 40, 50};
  EXPECT_DOUBLE_EQ(tools::percentile(w, 50), 30);
  EXPECT_DOUBLE_EQ(tools::percentile(w, 95), 48);
  EXPECT_DOUBLE_EQ(tools::percentile({7}, 99), 7);
  EXPECT_THROW(tools::percentile({}, 50), Error);
  EXPECT_THROW(tools::percentile(v, 101), Error);
  EXPECT_THROW(tools::percentile(v, -1), Error);
  EXPECT_THROW(tools::percentile(v, std::nan("")), Error);
}

TEST(BenchStats, SummaryOfUnsortedSamples) {
  tools::LatencyStats s = tools::summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p90, 4.6);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(2.0));
  tools::LatencyStats none = tools::summarize({});
  EXPECT_EQ(none.count, 0);
  EXPECT_EQ(none.max, 0);
}

// ---- timing loop ----

TEST(BenchRunner, IterationsArePerStreamAndAllSamplesAreKept) {
  std::atomic<int> calls{0};
  std::vector<tools::Iteration> its;
  for (int s = 0; s < 3; ++s) {
    its.push_back([&calls, s] {
      ++calls;
      return tools::IterationTiming{static_cast<double>(s + 1), s == 0 ? 0.5 : -1.0};
    });
  }
  tools::StopRule rule{7, 0, 0};
  tools::PhaseSamples p = tools::run_phase(its, rule);
  EXPECT_EQ(p.streams, 3);
  EXPECT_EQ(p.iterations, 21);
  EXPECT_EQ(p.latency_ms.size(), 21u);
  EXPECT_EQ(p.enqueue_ms.size(), 7u);  // only stream 0 measured an enqueue time
  EXPECT_EQ(std::count(p.latency_ms.begin(), p.latency_ms.end(), 2.0), 7);
  EXPECT_EQ(calls.load(), 21 + 3);  // plus at least one warm-up call per stream (0 ms warm-up)
  EXPECT_GE(p.wall_s, 0);
}

TEST(BenchRunner, DurationModeStopsAndWarmUpIsNotCounted) {
  int calls = 0;
  tools::StopRule rule{0, 0.02, 5};
  tools::PhaseSamples p = tools::run_phase({[&] {
                                             ++calls;
                                             return tools::IterationTiming{1};
                                           }},
                                           rule);
  EXPECT_GE(p.iterations, 1);
  EXPECT_GT(calls, p.iterations);
  EXPECT_EQ(tools::repeat_for({4, 0, 0}, [] {}), 4);
}

TEST(BenchRunner, AFailingStreamStopsTheOthersAndIsRethrown) {
  std::vector<tools::Iteration> its = {
      [] { return tools::IterationTiming{1}; },
      []() -> tools::IterationTiming { fail(ErrorCode::kInvalidArgument, "stream two broke"); }};
  try {
    tools::run_phase(its, {0, 60, 0});  // would run a minute if the failure did not stop it
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "stream two broke")) << e.what();
  }
}

// ---- the command ----

// y = softmax(relu(x @ W + b)) with a symbolic batch.
::onnx::ModelProto mlp_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, 4}, {"batch"});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {-1, 5}, {"batch"});
  std::vector<float> w(20), b(5, 0.1f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7f * static_cast<float>(i));
  return make_model(
      {make_node("MatMul", {"x", "W"}, {"mm"}, "matmul"),
       make_node("Add", {"mm", "B"}, {"pre"}, "add"), make_node("Relu", {"pre"}, {"act"}, "relu"),
       make_node("Softmax", {"act"}, {"y"}, "softmax")},
      {x}, {y}, {float_initializer("W", {4, 5}, w), float_initializer("B", {5}, b)});
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);  // throws on malformed JSON
}

void expect_ordered(const json& s) {
  for (const char* key : {"min", "median", "mean", "p90", "p95", "p99", "max", "stddev"}) {
    ASSERT_TRUE(s.contains(key) && s[key].is_number()) << key << " in " << s.dump();
  }
  double min = s["min"], median = s["median"], p90 = s["p90"], p95 = s["p95"], p99 = s["p99"];
  double max = s["max"], mean = s["mean"];
  EXPECT_LE(0, min);
  EXPECT_LE(min, median);
  EXPECT_LE(median, p90);
  EXPECT_LE(p90, p95);
  EXPECT_LE(p95, p99);
  EXPECT_LE(p99, max);
  EXPECT_LE(min, mean);
  EXPECT_LE(mean, max);
}

class BenchCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    mlp_ = dir_.file("mlp.onnx");
    write_model(mlp_, mlp_model());
  }
  TempDir dir_;
  std::string mlp_;
  std::string resnet_ = std::string(KILN_TEST_SOURCE_DIR) + "/models/resnet_tiny.onnx";
};

TEST_F(BenchCommand, ReportFieldsArePresentAndConsistent) {
  std::string out = dir_.file("r.json");
  CliResult r =
      run_kiln({"bench", resnet_, "--iterations", "6", "--warmup-ms", "0", "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"model       ", "backend     cpu on CPU", "batch       1", "p99",
                           "end-to-end latency (host clock around execute()): 6 iterations",
                           "inferences/s", "items/s", "linear interpolation"}) {
    EXPECT_TRUE(contains(r.out, part)) << part << "\n" << r.out;
  }
  json j = read_json(out);
  EXPECT_EQ(j["backend"], "cpu");
  EXPECT_EQ(j["format"], "onnx");
  EXPECT_EQ(j["streams"], 1);
  EXPECT_TRUE(j["gpu_compute"].is_null());
  EXPECT_TRUE(j["host_enqueue_ms"].is_null());
  EXPECT_TRUE(j["profile"].is_null());
  EXPECT_TRUE(j["build_seconds"].is_number());
  EXPECT_GT(j["layers"].get<int>(), 0);
  EXPECT_EQ(j["settings"]["iterations"], 6);
  EXPECT_TRUE(j["settings"]["duration_seconds"].is_null());
  const json& e2e = j["end_to_end"];
  EXPECT_EQ(e2e["iterations"], 6);
  EXPECT_EQ(e2e["latency_ms"]["count"], 6);
  expect_ordered(e2e["latency_ms"]);
  double ips = e2e["throughput"]["inferences_per_second"];
  EXPECT_GT(ips, 0);
  EXPECT_DOUBLE_EQ(ips, 6 / e2e["wall_seconds"].get<double>());
  EXPECT_DOUBLE_EQ(e2e["throughput"]["items_per_second"].get<double>(),
                   ips * j["batch"].get<double>());
  ASSERT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["dtype"], "float32");
  EXPECT_EQ(j["precision"], json({{"fp16", false}, {"bf16", false}, {"tf32", true}}));
  EXPECT_TRUE(contains(r.out, "precision fp32+tf32 allowed")) << r.out;

  CliResult strict = run_kiln({"bench", resnet_, "--iterations", "1", "--warmup-ms", "0", "--fp16",
                               "--no-tf32", "--json", out});
  ASSERT_EQ(strict.code, 0) << strict.err;
  EXPECT_EQ(read_json(out)["precision"], json({{"fp16", true}, {"bf16", false}, {"tf32", false}}));
  EXPECT_TRUE(contains(strict.out, "precision fp32+fp16 allowed")) << strict.out;
}

TEST_F(BenchCommand, ShapesFixTheBatchAndStreamsMultiplyIterations) {
  std::string out = dir_.file("r.json");
  CliResult r = run_kiln({"bench", mlp_, "--shape", "x=8x4", "--iterations", "5", "--streams", "3",
                          "--warmup-ms", "1", "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = read_json(out);
  EXPECT_EQ(j["inputs"][0]["shape"], json({8, 4}));
  EXPECT_EQ(j["batch"], 8);
  EXPECT_EQ(j["batch_source"], "first dimension of input 'x'");
  EXPECT_EQ(j["streams"], 3);
  EXPECT_EQ(j["end_to_end"]["iterations"], 15);
  EXPECT_EQ(j["end_to_end"]["streams"], 3);
  expect_ordered(j["end_to_end"]["latency_ms"]);
  const json& t = j["end_to_end"]["throughput"];
  EXPECT_DOUBLE_EQ(t["items_per_second"].get<double>(),
                   8 * t["inferences_per_second"].get<double>());
  EXPECT_TRUE(contains(r.out, "15 iterations over 3 streams")) << r.out;
}

TEST_F(BenchCommand, ProfileSharesSumToAHundredPercent) {
  std::string out = dir_.file("p.json");
  CliResult r = run_kiln(
      {"bench", resnet_, "--profile", "--iterations", "3", "--warmup-ms", "0", "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "layer profile: host clock between the CPU executor's layer"))
      << r.out;
  json j = read_json(out);
  const json& p = j["profile"];
  ASSERT_TRUE(p.is_object()) << j.dump(2);
  EXPECT_EQ(p["iterations"], 3);
  EXPECT_EQ(p["layers"].size(), j["layers"].get<size_t>());  // every layer of the engine
  double share = 0, mean = 0;
  for (const json& l : p["layers"]) {
    EXPECT_FALSE(l["name"].get<std::string>().empty());
    EXPECT_FALSE(l["op"].get<std::string>().empty());
    EXPECT_GE(l["share_percent"].get<double>(), 0);
    share += l["share_percent"].get<double>();
    mean += l["mean_ms"].get<double>();
  }
  EXPECT_NEAR(share, 100, 1e-6);
  EXPECT_NEAR(mean, p["mean_ms_per_inference"].get<double>(), 1e-9);
}

TEST_F(BenchCommand, PlansBenchAsBuilt) {
  std::string plan = dir_.file("mlp.plan");
  ASSERT_EQ(run_kiln({"build", mlp_, "-o", plan}).code, 0);
  std::string out = dir_.file("r.json");
  CliResult r = run_kiln(
      {"bench", plan, "--shape", "x=2x4", "--iterations", "2", "--warmup-ms", "0", "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = read_json(out);
  EXPECT_EQ(j["format"], "plan");
  EXPECT_TRUE(j["build_seconds"].is_null());
  EXPECT_TRUE(j["precision"]["tf32"].is_null());
  EXPECT_TRUE(contains(r.out, "precision as built into the plan")) << r.out;
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["end_to_end"]["iterations"], 2);
}

TEST_F(BenchCommand, DurationModeRunsAtLeastOneIteration) {
  std::string out = dir_.file("r.json");
  CliResult r = run_kiln({"bench", mlp_, "--duration", "0.05", "--warmup-ms", "0", "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = read_json(out);
  EXPECT_TRUE(j["settings"]["iterations"].is_null());
  EXPECT_DOUBLE_EQ(j["settings"]["duration_seconds"].get<double>(), 0.05);
  EXPECT_GE(j["end_to_end"]["iterations"].get<int>(), 1);
  EXPECT_EQ(j["end_to_end"]["latency_ms"]["count"], j["end_to_end"]["iterations"]);
}

TEST_F(BenchCommand, UsageErrorsExitWithTwo) {
  auto usage = [&](std::vector<std::string> args, const std::string& part) {
    args.insert(args.begin(), "bench");
    CliResult r = run_kiln(args);
    EXPECT_EQ(r.code, 2) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "kiln bench: usage error")) << r.err;
    EXPECT_TRUE(contains(r.err, part)) << r.err;
  };
  usage({}, "model");
  usage({mlp_, "--iterations", "0"}, "--iterations");
  usage({mlp_, "--iterations", "5", "--duration", "1"}, "excludes");
  usage({mlp_, "--duration", "0"}, "--duration");
  usage({mlp_, "--streams", "0"}, "--streams");
  usage({mlp_, "--warmup-ms", "-1"}, "--warmup-ms");
  usage({mlp_, "--backend", "tpu"}, "--backend");
  usage({mlp_, "--iterations", "many"}, "--iterations");
  CliResult help = run_kiln({"bench", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "Examples:")) << help.out;
  EXPECT_TRUE(contains(help.out, "--graph")) << help.out;
}

TEST_F(BenchCommand, BadRequestsFailWithOneClearLine) {
  auto error = [&](std::vector<std::string> args, const std::string& part) {
    args.insert(args.begin(), "bench");
    CliResult r = run_kiln(args);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_TRUE(r.err.starts_with("kiln bench: error: ")) << r.err;
    EXPECT_TRUE(contains(r.err, part)) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;  // refused before anything ran
  };
  error({mlp_, "--graph"}, "--graph replays CUDA graphs; it needs --backend cuda");
  error({mlp_, "--graph", "--backend", "cpu"}, "it needs --backend cuda");
  error({dir_.file("missing.onnx")}, "missing.onnx' does not exist");
  error({mlp_, "--shape", "y=1x4"}, "'y', which is not an input of the model");
  error({mlp_, "--shape", "x=2x5"}, "input 'x' has shape [batch,4] but --shape has shape [2,5]");
  error({mlp_, "--json", dir_.file("no/such/dir/r.json")}, "folder '");
  std::string plan = dir_.file("mlp.plan");
  ASSERT_EQ(run_kiln({"build", mlp_, "-o", plan}).code, 0);
  error({plan, "--fp16"}, "is a plan, already built");
  error({plan, "--no-tf32"},
        "--fp16, --bf16, --no-tf32 and --layout choose how an ONNX model is built");
  error({plan, "--layout", "nhwc"}, "is a plan, already built");
  error({plan, "--backend", "cuda"}, "is a plan for the cpu backend, not cuda");
  error({plan, "--graph"},
        "--graph replays CUDA graphs; '" + plan + "' is a plan for the cpu backend");
}

TEST(BenchModel, FixedInputShapesMakeEveryShapeStatic) {
  // What open_bench_model does before a build: the inputs' shapes fixed through the public API.
  ::onnx::ModelProto m = mlp_model();
  Network net = parse_onnx_bytes(m.SerializeAsString(), "mlp");
  net.set_input_shapes({{"x", {3, 4}}});
  for (const TensorDesc& t : net.tensors()) {
    ASSERT_TRUE(t.rank_known) << t.name;
    for (int64_t d : t.dims) ASSERT_GE(d, 0) << t.name << " " << shape_to_string(t);
    if (!net.constant(t.name)) {
      EXPECT_EQ(t.dims[0], 3) << t.name;
    }
  }
}

// ---- GPU ----

// Softmax -> Transpose -> GlobalAveragePool: three layers no pass fuses, each with a CUDA kernel.
::onnx::ModelProto gpu_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, 4, 8, 8}, {"batch"});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {-1, 4, 1, 1}, {"batch"});
  ::onnx::NodeProto transpose = make_node("Transpose", {"s"}, {"t"}, "transpose");
  auto* perm = transpose.add_attribute();
  perm->set_name("perm");
  perm->set_type(::onnx::AttributeProto::INTS);
  for (int64_t p : {0, 1, 3, 2}) perm->add_ints(p);
  return make_model({make_node("Softmax", {"x"}, {"s"}, "softmax"), transpose,
                     make_node("GlobalAveragePool", {"t"}, {"y"}, "pool")},
                    {x}, {y});
}

// `kiln build --backend cuda` refuses this model (its batch is symbolic); bench builds it for the
// benchmark's input shapes, so the build passes and only running needs a device.
TEST(BenchCommandCuda, BuildsForTheBenchmarkShapes) {
  if (!backend_built(Backend::kCuda)) GTEST_SKIP() << "this kiln build has no CUDA backend";
  if (backend_available(Backend::kCuda)) GTEST_SKIP() << "BenchCommandGpu runs it on the device";
  TempDir dir;
  std::string model = dir.file("gpu.onnx");
  write_model(model, gpu_model());
  CliResult built = run_kiln({"build", model, "--backend", "cuda"});
  EXPECT_EQ(built.code, 1);
  EXPECT_TRUE(contains(built.err, "CUDA engines need static shapes")) << built.err;
  CliResult r =
      run_kiln({"bench", model, "--backend", "cuda", "--shape", "x=16x4x8x8", "--iterations", "2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "kiln bench: error: no CUDA device is available to run this engine\n");
}

TEST(BenchCommandGpu, CudaReportHasComputeEnqueueEndToEndAndProfile) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  std::string model = dir.file("gpu.onnx");
  write_model(model, gpu_model());
  std::string out = dir.file("r.json");
  CliResult r = run_kiln({"bench", model, "--backend", "cuda", "--shape", "x=16x4x8x8", "--graph",
                          "--profile", "--streams", "2", "--iterations", "20", "--warmup-ms", "10",
                          "--json", out});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = read_json(out);
  EXPECT_EQ(j["backend"], "cuda");
  EXPECT_TRUE(j["cuda_graph"].get<bool>());
  EXPECT_EQ(j["batch"], 16);
  ASSERT_TRUE(j["gpu_compute"].is_object());
  EXPECT_EQ(j["gpu_compute"]["iterations"], 40);
  expect_ordered(j["gpu_compute"]["latency_ms"]);
  ASSERT_TRUE(j["host_enqueue_ms"].is_object());
  EXPECT_EQ(j["host_enqueue_ms"]["count"], 40);
  expect_ordered(j["host_enqueue_ms"]);
  EXPECT_EQ(j["end_to_end"]["iterations"], 40);
  expect_ordered(j["end_to_end"]["latency_ms"]);
  double share = 0;
  for (const json& l : j["profile"]["layers"]) share += l["share_percent"].get<double>();
  EXPECT_EQ(j["layers"], 3);
  EXPECT_EQ(j["profile"]["layers"].size(), 3u);
  EXPECT_NEAR(share, 100, 1e-6);
  EXPECT_TRUE(contains(r.out, "GPU compute time (CUDA events around enqueue())")) << r.out;
  EXPECT_TRUE(contains(r.out, "host enqueue time")) << r.out;
}

}  // namespace
}  // namespace kiln::test
