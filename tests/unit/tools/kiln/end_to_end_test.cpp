// End to end through the tool: ONNX model -> `kiln build` -> plan -> `kiln run`, compared with
// running the ONNX model directly and with a reference computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "kiln/kiln.hpp"
#include "npy.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

constexpr int kIn = 4, kOut = 5, kBatch = 3;

std::vector<float> weights() {
  std::vector<float> w;
  for (int i = 0; i < kIn * kOut; ++i) w.push_back(std::sin(0.7f * static_cast<float>(i)));
  return w;
}
std::vector<float> bias() {
  return {0.1f, -0.2f, 0.3f, -0.4f, 0.5f};
}

// y = softmax(relu(x @ W + b)), also returning the relu output as a second model output.
::onnx::ModelProto mlp_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, kIn}, {"batch"});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {-1, kOut}, {"batch"});
  auto r = value_info("hidden/relu", ::onnx::TensorProto::FLOAT, {-1, kOut}, {"batch"});
  ::onnx::NodeProto softmax = make_node("Softmax", {"hidden/relu"}, {"y"}, "softmax");
  auto* axis = softmax.add_attribute();
  axis->set_name("axis");
  axis->set_type(::onnx::AttributeProto::INT);
  axis->set_i(-1);
  return make_model(
      {make_node("MatMul", {"x", "W"}, {"mm"}, "matmul"),
       make_node("Add", {"mm", "B"}, {"pre"}, "add"),
       make_node("Relu", {"pre"}, {"hidden/relu"}, "relu"), softmax},
      {x}, {y, r},
      {float_initializer("W", {kIn, kOut}, weights()), float_initializer("B", {kOut}, bias())});
}

std::vector<float> to_vector(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

TEST(EndToEnd, PlanRunMatchesOnnxRunAndReference) {
  TempDir dir;
  std::string model = dir.file("mlp.onnx");
  std::string plan = dir.file("mlp.plan");
  write_model(model, mlp_model());
  CliResult built = run_kiln({"build", model, "-o", plan});
  ASSERT_EQ(built.code, 0) << built.err;

  std::vector<float> x;
  for (int i = 0; i < kBatch * kIn; ++i) x.push_back(0.25f * static_cast<float>(i % 7) - 0.6f);
  tools::write_npy(dir.file("x.npy"), Tensor::from_vector(DataType::kFloat32, {kBatch, kIn}, x));

  for (const std::string& source : {model, plan}) {
    SCOPED_TRACE(source);
    CliResult r = run_kiln({"run", source, "--input", "x=" + dir.file("x.npy"), "--output-dir",
                            dir.file(source == model ? "from_onnx" : "from_plan")});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  for (const char* name : {"y.npy", "hidden_relu.npy"}) {
    Tensor a = tools::read_npy(dir.file("from_onnx") + "/" + name);
    Tensor b = tools::read_npy(dir.file("from_plan") + "/" + name);
    ASSERT_EQ(a.shape(), Shape({kBatch, kOut})) << name;
    // Same engine, same kernels: bit-identical results.
    EXPECT_EQ(to_vector(a), to_vector(b)) << name;
  }

  // Reference computed directly.
  Tensor y = tools::read_npy(dir.file("from_plan") + "/y.npy");
  Tensor relu = tools::read_npy(dir.file("from_plan") + "/hidden_relu.npy");
  std::vector<float> w = weights(), b = bias();
  for (int n = 0; n < kBatch; ++n) {
    std::vector<double> h(kOut);
    double sum = 0;
    for (int j = 0; j < kOut; ++j) {
      double acc = b[j];
      for (int k = 0; k < kIn; ++k) acc += double(x[n * kIn + k]) * w[k * kOut + j];
      h[j] = std::max(acc, 0.0);
      EXPECT_NEAR(relu.data<float>()[n * kOut + j], h[j], 1e-5);
      sum += std::exp(h[j]);
    }
    for (int j = 0; j < kOut; ++j) {
      EXPECT_NEAR(y.data<float>()[n * kOut + j], std::exp(h[j]) / sum, 1e-6);
    }
  }

  // The plan lists the layers with the ONNX nodes they came from.
  CliResult inspected = run_kiln({"inspect", plan, "--json"});
  ASSERT_EQ(inspected.code, 0) << inspected.err;
  nlohmann::json j = nlohmann::json::parse(inspected.out);
  std::set<std::string> origins;
  for (const auto& layer : j["layers"]) {
    for (const auto& o : layer["origins"]) origins.insert(o.get<std::string>());
  }
  for (const char* node : {"matmul", "add", "relu", "softmax"}) {
    EXPECT_TRUE(origins.count(node)) << node << " in " << inspected.out;
  }
  EXPECT_EQ(j["parameters"], kIn * kOut + kOut);
}

TEST(EndToEnd, SerializedEngineRunsLikeTheOriginal) {
  std::string bytes;
  mlp_model().SerializeToString(&bytes);
  std::unique_ptr<Engine> engine = build_engine(parse_onnx_bytes(bytes), BuilderConfig{});
  std::vector<uint8_t> plan = engine->serialize();
  std::unique_ptr<Engine> loaded =
      Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()});
  ASSERT_EQ(loaded->layers().size(), engine->layers().size());
  for (size_t i = 0; i < engine->layers().size(); ++i) {
    EXPECT_EQ(loaded->layers()[i].name, engine->layers()[i].name);
    EXPECT_EQ(loaded->layers()[i].attributes, engine->layers()[i].attributes);
  }
  ASSERT_EQ(loaded->inputs().size(), 1u);
  EXPECT_EQ(loaded->inputs()[0].dim_names[0], "batch");
  Tensor x(DataType::kFloat32, {2, kIn});
  for (int i = 0; i < 2 * kIn; ++i) x.data<float>()[i] = 0.3f * static_cast<float>(i) - 1;
  auto a = engine->create_execution_context()->execute({{"x", x}});
  auto b = loaded->create_execution_context()->execute({{"x", x}});
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(to_vector(a[k]), to_vector(b[k]));
}

}  // namespace
}  // namespace kiln::test
