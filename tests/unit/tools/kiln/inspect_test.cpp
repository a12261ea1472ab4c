// `kiln inspect`: text and JSON views of ONNX models and plans, format detection by content.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"
#include "plan/plan_file.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A plan with real layers (op names need no kernels to be inspected): a Gemm on a weight and a
// Relu, with origins.
std::string write_layered_plan(const TempDir& dir, const std::string& name) {
  ir::Graph g;
  g.name = "mlp";
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("N"), 4});
  ir::Value* w = g.add_constant("w", Tensor(DataType::kFloat32, {4, 8}));
  ir::Value* b = g.add_constant("b", Tensor(DataType::kFloat32, {8}));
  ir::Value* h = g.add_value("h", DataType::kFloat32, ir::SymShape{2, 8});
  ir::Value* y = g.add_value("y", DataType::kFloat32, ir::SymShape{2, 8});
  g.inputs() = {x};
  g.add_node("Gemm", "fc", {x, w, b}, {h})->origins = {"onnx_gemm"};
  g.add_node("Relu", "act", {h}, {y})->origins = {"onnx_relu"};
  g.outputs() = {y};
  std::string path = dir.file(name);
  write_file(path, plan::write_plan(g, Backend::kCpu));
  return path;
}

TEST(InspectCommand, PlanAsText) {
  TempDir dir;
  std::string plan = write_layered_plan(dir, "mlp.plan");
  CliResult r = run_kiln({"inspect", plan});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "kiln plan for the cpu backend")) << r.out;
  EXPECT_TRUE(contains(r.out, "x: float32[N,4]")) << r.out;
  EXPECT_TRUE(contains(r.out, "parameters: 40")) << r.out;
  EXPECT_TRUE(contains(r.out, "Gemm: 1")) << r.out;
  EXPECT_TRUE(contains(r.out, "fc (Gemm): x, w, b -> h  [from onnx_gemm]")) << r.out;
}

TEST(InspectCommand, PlanAsJson) {
  TempDir dir;
  std::string plan = write_layered_plan(dir, "mlp.plan");
  CliResult r = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "plan");
  EXPECT_EQ(j["backend"], "cpu");
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["N", 4])"));
  EXPECT_EQ(j["parameters"], 40);
  // Gemm 2x8 over K=4: 2*2*8*4 MACs-as-FLOPs + 16 bias adds; Relu 16.
  EXPECT_EQ(j["flops"], 2 * 2 * 8 * 4 + 16 + 16);
  EXPECT_EQ(j["flops_uncounted_layers"].size(), 0u);
  EXPECT_EQ(j["op_histogram"]["Relu"], 1);
  ASSERT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["layers"][0]["name"], "fc");
  EXPECT_EQ(j["layers"][0]["inputs"], nlohmann::json::parse(R"(["x", "w", "b"])"));
  EXPECT_EQ(j["layers"][1]["origins"][0], "onnx_relu");
}

TEST(InspectCommand, ShowsEachLayersTacticAndLayout) {
  // A CUDA plan records each tuned layer's tactic; the layout pass marks channels-last layers.
  ir::Graph g;
  g.name = "cnn";
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{1, 4, 4, 3});
  ir::Value* w = g.add_constant("w", Tensor(DataType::kFloat32, {8, 3, 3, 3}));
  ir::Value* h = g.add_value("h", DataType::kFloat32, ir::SymShape{1, 2, 2, 8});
  ir::Value* p = g.add_value("p", DataType::kFloat32, ir::SymShape{1, 8, 2, 2});
  ir::Value* y = g.add_value("y", DataType::kFloat32, ir::SymShape{1, 8, 1, 1});
  g.inputs() = {x};
  ir::Node* conv = g.add_node("Conv", "conv", {x, w}, {h});
  conv->attrs.set("channels_last", int64_t{1});
  conv->attrs.set("tactic", std::string("eng3_k2=1"));
  g.add_node("Transpose", "to_nchw", {h}, {p})->attrs.set("perm", std::vector<int64_t>{0, 3, 1, 2});
  g.add_node("GlobalAveragePool", "gap", {p}, {y});
  g.outputs() = {y};
  TempDir dir;
  std::string plan = dir.file("cnn.plan");
  write_file(plan, plan::write_plan(g, Backend::kCuda));
  CliResult r = run_kiln({"inspect", plan});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "conv (Conv, NHWC, tactic eng3_k2=1): x, w -> h")) << r.out;
  EXPECT_TRUE(contains(r.out, "gap (GlobalAveragePool, NCHW): p -> y")) << r.out;
  EXPECT_TRUE(contains(r.out, "to_nchw (Transpose): h -> p")) << r.out;
  r = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layers"][0]["tactic"], "eng3_k2=1");
  EXPECT_EQ(j["layers"][0]["layout"], "NHWC");
  EXPECT_EQ(j["layers"][1]["layout"], "");
  EXPECT_EQ(j["layers"][2]["layout"], "NCHW");
}

TEST(InspectCommand, DetectsFormatByContentNotName) {
  TempDir dir;
  std::string plan = write_layered_plan(dir, "actually_a_plan.onnx");
  CliResult r = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["format"], "plan");

  write_model(dir.file("actually_onnx.plan"), passthrough_model());
  r = run_kiln({"inspect", dir.file("actually_onnx.plan"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "onnx");
  EXPECT_EQ(j["inputs"][1]["dtype"], "int64");
  EXPECT_EQ(j["inputs"][1]["shape"], nlohmann::json::parse(R"(["batch", 2])"));
  EXPECT_EQ(j["layers"].size(), 0u);
}

TEST(InspectCommand, ReportsEveryUnsupportedOp) {
  TempDir dir;
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2});
  auto z = value_info("z", ::onnx::TensorProto::FLOAT, {2});
  write_model(dir.file("m.onnx"), make_model({make_node("FooOp", {"x"}, {"y"}, "first"),
                                              make_node("BarOp", {"y"}, {"z"}, "second")},
                                             {x}, {z}));
  CliResult r = run_kiln({"inspect", dir.file("m.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.err.starts_with("kiln inspect: error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "FooOp") && contains(r.err, "BarOp")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(InspectCommand, RefusesCorruptPlanAndMissingFile) {
  TempDir dir;
  std::string plan = write_layered_plan(dir, "mlp.plan");
  std::vector<uint8_t> bytes = read_file(plan);
  bytes[200] ^= 1;
  write_file(plan, bytes);
  CliResult r = run_kiln({"inspect", plan, "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "mlp.plan") && contains(r.err, "checksum")) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_kiln({"inspect", dir.file("gone.plan")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "gone.plan")) << r.err;
}

// The installed binary behaves like kiln_main: exit codes, one error line, no crash.
TEST(KilnBinary, ExitCodesAndErrors) {
  // The build tree's location is compiled in; KILN_BINARY_DIR overrides it for a moved tree.
  const char* bin_dir = std::getenv("KILN_BINARY_DIR");
  if (!bin_dir) bin_dir = KILN_TEST_BINARY_DIR;
  std::string kiln = std::string(bin_dir) + "/kiln";
  TempDir dir;
  auto status = [&](const std::string& args) {
    std::string cmd = kiln + " " + args + " >" + dir.file("out.txt") + " 2>" + dir.file("err.txt");
    int s = std::system(cmd.c_str());
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  };
  auto err_text = [&]() {
    auto b = read_file(dir.file("err.txt"));
    return std::string(b.begin(), b.end());
  };
  EXPECT_EQ(status("--help"), 0);
  EXPECT_EQ(status("inspect --help"), 0);
  EXPECT_EQ(status("run " + dir.file("missing.plan")), 1);
  EXPECT_EQ(err_text(), "kiln run: error: '" + dir.file("missing.plan") + "' does not exist\n");
  EXPECT_EQ(status("build"), 2);
  write_file(dir.file("bad.plan"), std::string("KILNPLAN but nothing else"));
  EXPECT_EQ(status("inspect " + dir.file("bad.plan")), 1);
  EXPECT_TRUE(contains(err_text(), "truncated")) << err_text();
}

}  // namespace
}  // namespace kiln::test

namespace kiln::test {
namespace {

// An engine built through the Network API: MatMul, then an in-place Relu, a Reshape view and an
// in-place Neg, all in one 64-byte buffer.
std::string write_planned_plan(const TempDir& dir) {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 8});
  net.add_constant("w", Tensor(DataType::kFloat32, {8, 8}));
  net.add_constant("flat", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{16}));
  net.add_layer("MatMul", {"x", "w"}, {}, "h");
  net.add_layer("Relu", {"h"}, {}, "r");
  net.add_layer("Reshape", {"r", "flat"}, {}, "v");
  net.mark_output(net.add_layer("Neg", {"v"}, {}, "y")[0]);
  BuilderConfig config;
  config.optimization_level = 0;  // keep every layer
  std::string path = dir.file("planned.plan");
  build_engine(net, config)->save(path);
  return path;
}

TEST(InspectCommand, ShowsTheMemoryPlan) {
  TempDir dir;
  std::string plan = write_planned_plan(dir);
  CliResult r = run_kiln({"inspect", plan});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out,
                       "memory:     arena 64 B (lower bound 64 B, 1.000x; all activations 256 B), "
                       "1 view(s), 2 in place"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "planned for inputs x[2,8]")) << r.out;
  EXPECT_TRUE(contains(r.out, "ops (4 layers, 3 launching work)")) << r.out;

  r = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layers_launching_work"], 3);
  const nlohmann::json& m = j["memory"];
  EXPECT_EQ(m["arena_bytes"], 64);
  EXPECT_EQ(m["total_bytes"], 256);
  EXPECT_EQ(m["lower_bound_bytes"], 64);
  EXPECT_EQ(m["input_shapes"]["x"], nlohmann::json::parse("[2, 8]"));
  ASSERT_EQ(m["tensors"].size(), 4u);
  EXPECT_EQ(m["tensors"][0], nlohmann::json::parse(R"({"name": "h", "bytes": 64, "offset": 0})"));
  EXPECT_EQ(m["tensors"][1]["in_place_of"], "h");
  EXPECT_EQ(m["tensors"][2]["view_of"], "r");
  EXPECT_TRUE(m["tensors"][2]["offset"].is_null());
  EXPECT_EQ(m["tensors"][3]["in_place_of"], "v");
}

// Two branches concatenated along channels at batch 1: the Concat launches nothing.
std::string write_concat_plan(const TempDir& dir) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4, 4});  // 64 bytes
  net.add_layer("Relu", {"x"}, {}, "a");
  net.add_layer("Neg", {"x"}, {}, "b");
  net.add_layer("Concat", {"a", "b"}, {{"axis", int64_t{1}}}, "cat");
  net.mark_output(net.add_layer("Exp", {"cat"}, {}, "y")[0]);
  BuilderConfig config;
  config.optimization_level = 0;
  std::string path = dir.file("concat.plan");
  build_engine(net, config)->save(path);
  return path;
}

TEST(InspectCommand, ShowsConcatsAssembledByTheirInputs) {
  TempDir dir;
  std::string plan = write_concat_plan(dir);
  CliResult r = run_kiln({"inspect", plan});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 concat(s) eliminated (2 input(s) written into their slice)"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "ops (4 layers, 3 launching work)")) << r.out;
  EXPECT_TRUE(contains(r.out, "[eliminated: its inputs write into its output]")) << r.out;

  r = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layers_launching_work"], 3);
  const nlohmann::json& m = j["memory"];
  EXPECT_EQ(m["eliminated_concats"], nlohmann::json::parse(R"(["cat"])"));
  ASSERT_EQ(m["tensors"].size(), 4u);
  EXPECT_EQ(m["tensors"][0]["concat_into"], "cat");
  EXPECT_EQ(m["tensors"][1]["concat_into"], "cat");
  EXPECT_EQ(m["tensors"][1]["offset"].get<uint64_t>(),
            m["tensors"][2]["offset"].get<uint64_t>() + 64);
  EXPECT_FALSE(m["tensors"][2].contains("concat_into"));
  std::vector<bool> work;
  for (const auto& layer : j["layers"]) work.push_back(layer["launches_work"]);
  EXPECT_EQ(work, (std::vector<bool>{true, true, false, true}));
}

TEST(InspectCommand, PlansWithoutStaticShapesSaySo) {
  TempDir dir;
  std::string plan = write_layered_plan(dir, "mlp.plan");
  CliResult r = run_kiln({"inspect", plan});
  EXPECT_TRUE(contains(r.out, "memory:     no plan")) << r.out;
  r = run_kiln({"inspect", plan, "--json"});
  EXPECT_TRUE(nlohmann::json::parse(r.out)["memory"].is_null());
}

}  // namespace
}  // namespace kiln::test
