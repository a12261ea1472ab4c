// The public Builder: parse, build, serialize, load back and run, with a custom logger.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"

namespace kiln {
namespace {

class RecordingLogger : public Logger {
 public:
  void log(LogSeverity severity, std::string_view message) override {
    messages.emplace_back(severity, std::string(message));
  }
  std::vector<std::pair<LogSeverity, std::string>> messages;
};

std::string write_model(const std::string& name) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  g->add_output()->set_name("y");
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  return path;
}

TEST(Builder, ParsesBuildsSerializesAndRuns) {
  RecordingLogger logger;
  Builder builder(&logger, LogSeverity::kInfo);
  Network net = builder.parse_onnx_file(write_model("kiln_builder_test.onnx"));
  BuilderConfig config;
  config.fp16 = true;  // the CPU honours it (FP16 storage, FP32 math) and says so
  std::vector<uint8_t> plan = builder.build_serialized(net, config);
  set_logger(nullptr);
  auto engine = Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()});
  ASSERT_EQ(engine->inputs().size(), 1u);
  EXPECT_EQ(engine->inputs()[0].dims, (std::vector<int64_t>{3}));
  auto out = engine->create_execution_context()->execute(
      {{"x", Tensor::from_vector(DataType::kFloat32, {3}, std::vector<float>{-1, 0, 2})}});
  EXPECT_EQ(out[0].data<float>()[0], 0.0f);
  EXPECT_EQ(out[0].data<float>()[2], 2.0f);
  bool honoured = false, passes_logged = false;
  for (const auto& [severity, message] : logger.messages) {
    honoured |= severity == LogSeverity::kInfo && message.find("honours") != std::string::npos;
    passes_logged |= message.find("passes") != std::string::npos;
  }
  EXPECT_TRUE(honoured);
  EXPECT_TRUE(passes_logged);
}

TEST(ExecutionContext, ManyContextsOfOneEngineRunConcurrently) {
  Network net = parse_onnx_file(write_model("kiln_contexts_test.onnx"));
  auto engine = build_engine(net, BuilderConfig{});
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = engine->create_execution_context();
      for (int i = 0; i < 50; ++i) {
        float v = static_cast<float>(t * 100 + i);
        auto out = ctx->execute(
            {{"x", Tensor::from_vector(DataType::kFloat32, {3}, std::vector<float>{-v, v, 1})}});
        ok[t] += out[0].data<float>()[0] == 0.0f && out[0].data<float>()[1] == v;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(ok[t], 50) << "thread " << t;
}

LayerInfo only_layer(const Engine& engine) {
  std::vector<LayerInfo> layers = engine.layers();
  EXPECT_EQ(layers.size(), 1u);
  return layers.empty() ? LayerInfo{} : layers[0];
}

TEST(Builder, PinnedTacticsAreRecordedByLayerOpOrOnnxNodeName) {
  Network net = parse_onnx_file(write_model("kiln_tactic_test.onnx"));
  for (const char* key : {"Relu", "Relu_0"}) {  // the op, and the layer (the unnamed node's name)
    BuilderConfig config;
    config.tactics[key] = "some_tactic";
    auto engine = build_engine(net, config);
    LayerInfo l = only_layer(*engine);
    EXPECT_EQ(l.attributes["tactic"], "\"some_tactic\"") << key;  // strings print quoted
    EXPECT_EQ(l.attributes["tactic_pinned"], "1") << key;
    // The plan keeps the pin.
    std::vector<uint8_t> plan = engine->serialize();
    auto loaded = Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()});
    EXPECT_EQ(only_layer(*loaded).attributes["tactic_pinned"], "1") << key;
  }
}

TEST(Builder, TacticForNoLayerIsRefused) {
  Network net = parse_onnx_file(write_model("kiln_tactic_none_test.onnx"));
  BuilderConfig config;
  config.tactics["Softmax"] = "fused";
  try {
    build_engine(net, config);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("tactic 'Softmax=fused': no layer"), std::string::npos)
        << e.what();
  }
}

TEST(Builder, DisabledPassesAreLoggedAndUnknownOnesRefused) {
  Network net = parse_onnx_file(write_model("kiln_disable_pass_test.onnx"));
  RecordingLogger logger;
  set_logger(&logger, LogSeverity::kInfo);
  BuilderConfig config;
  config.disabled_passes = {"fuse_pointwise", "fold_constants"};
  build_engine(net, config);
  config.disabled_passes = {"no_such_pass"};
  EXPECT_THROW(build_engine(net, config), Error);
  set_logger(nullptr);
  bool logged = false;
  for (const auto& [severity, message] : logger.messages) {
    logged |=
        message == "passes disabled by the build configuration: fold_constants, fuse_pointwise";
  }
  EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace kiln
