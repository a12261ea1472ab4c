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

}  // namespace
}  // namespace kiln
