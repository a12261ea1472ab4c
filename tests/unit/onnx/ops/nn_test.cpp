// Import rewrites of the nn family for older opsets, checked end to end: one-node models built
// here are imported and run, or rejected with a clear reason.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "onnx/importer.hpp"

namespace kiln::onnx {
namespace {

namespace pb = ::onnx;

// A model with one node `op` at `opset`, float inputs of the given shapes, `outputs` outputs.
struct OneNodeModel {
  pb::ModelProto model;
  pb::NodeProto* node;

  OneNodeModel(const std::string& op, int opset, const std::vector<Shape>& inputs,
               int outputs = 1) {
    model.set_ir_version(7);
    model.add_opset_import()->set_version(opset);
    auto* g = model.mutable_graph();
    g->set_name("g");
    node = g->add_node();
    node->set_op_type(op);
    node->set_name("node0");
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto* in = g->add_input();
      in->set_name("x" + std::to_string(i));
      auto* tt = in->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(pb::TensorProto::FLOAT);
      for (int64_t d : inputs[i]) tt->mutable_shape()->add_dim()->set_dim_value(d);
      node->add_input(in->name());
    }
    for (int i = 0; i < outputs; ++i) {
      node->add_output("y" + std::to_string(i));
      g->add_output()->set_name("y" + std::to_string(i));
    }
  }
  void set_int(const std::string& name, int64_t v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  void set_float(const std::string& name, float v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::FLOAT);
    a->set_f(v);
  }
  void set_ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  std::string bytes() const { return model.SerializeAsString(); }
};

std::vector<Tensor> run(const OneNodeModel& m, const std::vector<Tensor>& inputs) {
  Network net = parse_onnx_bytes(m.bytes(), "test model");
  auto engine = build_engine(net, BuilderConfig{});
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) feeds["x" + std::to_string(i)] = inputs[i];
  return engine->create_execution_context()->execute(feeds);
}

Tensor f32(Shape s, std::vector<float> v) {
  return Tensor::from_vector(DataType::kFloat32, std::move(s), v);
}

TEST(NnImport, SoftmaxBeforeOpset13CoercesTo2d) {
  OneNodeModel m("Softmax", 11, {{1, 2, 2}});
  m.set_int("axis", 1);
  float l5 = std::log(5.0f);
  Tensor y = run(m, {f32({1, 2, 2}, {0, 0, 0, l5})})[0];
  std::vector<float> expected{0.125f, 0.125f, 0.125f, 0.625f};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<float>()[i], expected[i], 1e-6);
}

TEST(NnImport, SoftmaxOpset13UsesOneAxis) {
  OneNodeModel m("Softmax", 13, {{1, 2, 2}});
  m.set_int("axis", 1);
  Tensor y = run(m, {f32({1, 2, 2}, {0, 0, 0, std::log(5.0f)})})[0];
  std::vector<float> expected{0.5f, 1.0f / 6, 0.5f, 5.0f / 6};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(y.data<float>()[i], expected[i], 1e-6);
}

TEST(NnImport, HardmaxBeforeOpset13DefaultAxisIsOne) {
  OneNodeModel m("Hardmax", 11, {{1, 2, 2}});
  Tensor y = run(m, {f32({1, 2, 2}, {0, 1, 3, 2})})[0];
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 4),
            (std::vector<float>{0, 0, 1, 0}));
}

TEST(NnImport, BatchNormOpset6TestModeDropsLegacyAttributes) {
  OneNodeModel m("BatchNormalization", 6, {{1, 1, 2}, {1}, {1}, {1}, {1}});
  m.set_int("is_test", 1);
  m.set_ints("consumed_inputs", {0, 0, 0, 1, 1});
  m.set_float("epsilon", 0.0f);
  Tensor y = run(
      m, {f32({1, 1, 2}, {1, 3}), f32({1}, {2}), f32({1}, {1}), f32({1}, {1}), f32({1}, {4})})[0];
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 2),
            (std::vector<float>{1, 3}));  // 2 * (x - 1) / 2 + 1
}

TEST(NnImport, BatchNormSpatialZeroIsUnsupported) {
  OneNodeModel m("BatchNormalization", 7, {{1, 1, 2}, {1}, {1}, {1}, {1}});
  m.set_int("spatial", 0);
  try {
    parse_onnx_bytes(m.bytes(), "test model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("spatial=0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("node0"), std::string::npos) << e.what();
  }
}

TEST(NnImport, GroupNormOpset18ScalesPerGroup) {
  OneNodeModel m("GroupNormalization", 18, {{1, 4, 1}, {2}, {2}});
  m.set_int("num_groups", 2);
  m.set_float("epsilon", 0.0f);
  Tensor y = run(m, {f32({1, 4, 1}, {1, 3, 5, 9}), f32({2}, {1, 2}), f32({2}, {0, 10})})[0];
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 4),
            (std::vector<float>{-1, 1, 8, 12}));
}

TEST(NnImport, GemmOpset6BroadcastFlagIsDropped) {
  OneNodeModel m("Gemm", 6, {{1, 2}, {2, 1}, {1}});
  m.set_int("broadcast", 1);
  Tensor y = run(m, {f32({1, 2}, {1, 2}), f32({2, 1}, {3, 4}), f32({1}, {0.5f})})[0];
  EXPECT_EQ(y.data<float>()[0], 11.5f);
}

TEST(NnImport, LpPoolOpset1FloatP) {
  OneNodeModel m("LpPool", 1, {{1, 1, 2}});
  m.set_float("p", 1.0f);
  m.set_ints("kernel_shape", {2});
  Tensor y = run(m, {f32({1, 1, 2}, {-3, 4})})[0];
  EXPECT_EQ(y.data<float>()[0], 7.0f);
}

}  // namespace
}  // namespace kiln::onnx
