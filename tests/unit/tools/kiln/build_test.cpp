// `kiln build`: writes a plan that loads back, and refuses bad models with one error line.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "plan/plan_file.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(BuildCommand, WritesALoadablePlan) {
  TempDir dir;
  std::string model = dir.file("pass.onnx");
  write_model(model, passthrough_model());
  CliResult r = run_kiln({"build", model, "-o", dir.file("out.plan")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "layers:  0")) << r.out;
  EXPECT_TRUE(contains(r.out, "plan:")) << r.out;
  plan::LoadedPlan p = plan::read_plan_file(dir.file("out.plan"), Backend::kCpu);
  ASSERT_EQ(p.graph->inputs().size(), 2u);
  EXPECT_EQ(p.graph->inputs()[0]->name, "x");
  // Without -o the plan goes next to the model.
  ASSERT_EQ(run_kiln({"build", model}).code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir.file("pass.plan")));
}

TEST(BuildCommand, OptimizationLevel) {
  TempDir dir;
  std::string model = dir.file("identity.onnx");
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2, 3});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {2, 3});
  write_model(
      model,
      make_model({make_node("Identity", {"x"}, {"t"}), make_node("Relu", {"t"}, {"y"})}, {x}, {y}));
  // Level 0 keeps the model's layers (the Identity stays); 3 removes it.
  CliResult r0 = run_kiln({"build", model, "-o", dir.file("o0.plan"), "--opt-level", "0"});
  ASSERT_EQ(r0.code, 0) << r0.err;
  EXPECT_TRUE(contains(r0.out, "layers:  2")) << r0.out;
  CliResult r3 = run_kiln({"build", model, "-o", dir.file("o3.plan"), "--opt-level", "3"});
  ASSERT_EQ(r3.code, 0) << r3.err;
  EXPECT_TRUE(contains(r3.out, "layers:  1")) << r3.out;
  CliResult bad = run_kiln({"build", model, "--opt-level", "4"});
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(contains(bad.err, "opt-level")) << bad.err;
}

TEST(BuildCommand, RefusesBadModels) {
  TempDir dir;
  CliResult r = run_kiln({"build", dir.file("nope.onnx"), "-o", dir.file("x.plan")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.err.starts_with("kiln build: error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "nope.onnx")) << r.err;

  write_file(dir.file("garbage.onnx"), std::string("\xff\xff\xff\xff garbage", 13));
  r = run_kiln({"build", dir.file("garbage.onnx"), "-o", dir.file("x.plan")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "garbage.onnx")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.plan")));

  // An op no one implements: the importer's report names the node.
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {2});
  write_model(dir.file("weird.onnx"),
              make_model({make_node("FrobnicateXYZ", {"x"}, {"y"}, "frob")}, {x}, {y}));
  r = run_kiln({"build", dir.file("weird.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "frob")) << r.err;
  EXPECT_TRUE(contains(r.err, "FrobnicateXYZ")) << r.err;

  // A plan is not an input of build.
  write_model(dir.file("pass.onnx"), passthrough_model());
  ASSERT_EQ(run_kiln({"build", dir.file("pass.onnx"), "-o", dir.file("p.plan")}).code, 0);
  r = run_kiln({"build", dir.file("p.plan"), "-o", dir.file("q.plan")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "already a kiln plan")) << r.err;

  // A layout kiln does not know.
  r = run_kiln({"build", dir.file("pass.onnx"), "--layout", "chw"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "--layout")) << r.err;

  // Unwritable output.
  r = run_kiln({"build", dir.file("pass.onnx"), "-o", dir.file("no/such/dir/p.plan")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no/such/dir")) << r.err;
}

TEST(BuildCommand, VerboseShowsLayersAndDiagnosticsQuietDoesNot) {
  TempDir dir;
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {2});
  write_model(dir.file("relu.onnx"), make_model({make_node("Relu", {"x"}, {"y"}, "r")}, {x}, {y}));
  CliResult quiet = run_kiln({"build", dir.file("relu.onnx")});
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  EXPECT_FALSE(contains(quiet.out, "Relu(")) << quiet.out;
  CliResult verbose = run_kiln({"build", dir.file("relu.onnx"), "--verbose"});
  ASSERT_EQ(verbose.code, 0) << verbose.err;
  EXPECT_TRUE(contains(verbose.out, "Relu(")) << verbose.out;
}

TEST(BuildCommand, PlansActivationMemoryForTheGivenShapes) {
  TempDir dir;
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, 16});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {-1, 16});
  write_model(dir.file("relu.onnx"), make_model({make_node("Relu", {"x"}, {"y"}, "r")}, {x}, {y}));
  CliResult r = run_kiln({"build", dir.file("relu.onnx"), "-s", "x=4x16", "--verbose"});
  ASSERT_EQ(r.code, 0) << r.err;
  // One 4x16 float32 output: 256 bytes, all of them needed at once.
  EXPECT_TRUE(contains(r.out, "memory:  arena 0.00 MiB (256 bytes), 1.000x its lower bound"))
      << r.out;
  EXPECT_TRUE(contains(r.err, "activation memory plan")) << r.err;
  plan::LoadedPlan p = plan::read_plan_file(dir.file("relu.plan"), Backend::kCpu);
  ASSERT_TRUE(p.memory);
  EXPECT_EQ(p.memory->input_shapes.at("x"), (Shape{4, 16}));
  // Without a shape the unknown dim is taken as 1, and the log says so.
  r = run_kiln({"build", dir.file("relu.onnx"), "--verbose"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "(64 bytes)")) << r.out;
  EXPECT_TRUE(contains(r.err, "taken as 1")) << r.err;
  r = run_kiln({"build", dir.file("relu.onnx"), "-s", "x=4x17"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "input 'x'")) << r.err;
}

TEST(BuildCommand, BackendOption) {
  TempDir dir;
  write_model(dir.file("pass.onnx"), passthrough_model());
  EXPECT_EQ(run_kiln({"build", dir.file("pass.onnx"), "--backend", "tpu"}).code, 2);
  CliResult help = run_kiln({"build", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "Examples:")) << help.out;
  EXPECT_TRUE(contains(help.out, "--timing-cache")) << help.out;
  EXPECT_TRUE(contains(help.out, "--workspace-limit")) << help.out;
  // A workspace limit of 0 MiB or a negative one is a usage error, not a silent default.
  EXPECT_EQ(run_kiln({"build", dir.file("pass.onnx"), "--workspace-limit", "0"}).code, 2);
  EXPECT_EQ(run_kiln({"build", dir.file("pass.onnx"), "--workspace-limit", "-5"}).code, 2);
  EXPECT_EQ(run_kiln({"build", dir.file("pass.onnx"), "--workspace-limit", "64", "-o",
                      dir.file("ws.plan")})
                .code,
            0);
}

// x -> MatMul "mm" (weights) -> Softmax "sm" -> y.
void write_matmul_softmax(const std::string& path) {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2, 4});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {2, 4});
  std::vector<float> w(16);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 0.7f;
  write_model(path, make_model({make_node("MatMul", {"x", "w"}, {"h"}, "mm"),
                                make_node("Softmax", {"h"}, {"y"}, "sm")},
                               {x}, {y}, {float_initializer("w", {4, 4}, w)}));
}

std::map<std::string, std::string> layer_precisions(const std::string& plan) {
  CliResult r = run_kiln({"inspect", plan, "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::string> out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& l : j["layers"]) {
    out[l["name"].get<std::string>()] = l["precision"].get<std::string>();
  }
  return out;
}

TEST(BuildCommand, PrecisionFlagsAndConstraints) {
  TempDir dir;
  std::string model = dir.file("mm.onnx");
  write_matmul_softmax(model);
  ASSERT_EQ(run_kiln({"build", model, "-o", dir.file("a.plan"), "--fp16"}).code, 0);
  auto p = layer_precisions(dir.file("a.plan"));
  EXPECT_EQ(p["mm"], "fp16");
  // Softmax follows its neighbours (16-bit I/O, FP32 math inside); the output is cast back.
  EXPECT_EQ(p["sm"], "fp16");
  CliResult text = run_kiln({"inspect", dir.file("a.plan")});
  EXPECT_TRUE(contains(text.out, "mm (MatMul, fp16): x_fp16, w_fp16 -> h")) << text.out;
  EXPECT_TRUE(contains(text.out, "precisions: fp16 3; fp32 1;")) << text.out;

  CliResult r =
      run_kiln({"build", model, "-o", dir.file("b.plan"), "--fp16", "--precision-constraint",
                "mm=FP32", "--precision-constraint", "sm=fp16", "--no-tf32"});
  ASSERT_EQ(r.code, 0) << r.err;
  p = layer_precisions(dir.file("b.plan"));
  EXPECT_EQ(p["mm"], "fp32");
  EXPECT_EQ(p["sm"], "fp16");

  ASSERT_EQ(run_kiln({"build", model, "-o", dir.file("c.plan")}).code, 0);
  EXPECT_EQ(layer_precisions(dir.file("c.plan"))["mm"], "tf32");

  r = run_kiln({"build", model, "--precision-constraint", "mm=fp8"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "'mm=fp8'")) << r.err;
  r = run_kiln({"build", model, "--precision-constraint", "nope=fp32"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.err, "'nope'")) << r.err;  // a warning
  r = run_kiln({"build", model, "--precision-constraint", "nope=fp32", "--strict-types"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "'nope'")) << r.err;
}

}  // namespace
}  // namespace kiln::test
