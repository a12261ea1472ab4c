// Import of older-opset reduction-family nodes (attributes that became inputs, Resize-10/11,
// Upsample) into kiln's canonical form, checked by running the imported model.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::make;

// A one-node model: float input "x" of `shape`, output "y", extra inputs as initializers.
class OneNodeModel {
 public:
  OneNodeModel(const std::string& op, int64_t opset, const Shape& shape) {
    model_.set_ir_version(7);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    auto* g = model_.mutable_graph();
    g->set_name("g");
    node_ = g->add_node();
    node_->set_op_type(op);
    node_->set_name("n");
    node_->add_input("x");
    auto* in = g->add_input();
    in->set_name("x");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  ::onnx::NodeProto& node() { return *node_; }
  void add_output(const std::string& name) {
    node_->add_output(name);
    model_.mutable_graph()->add_output()->set_name(name);
  }
  void add_floats_init(const std::string& name, const std::vector<float>& v) {
    node_->add_input(name);
    if (name.empty()) return;
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (float f : v) t->add_float_data(f);
  }
  void add_ints_init(const std::string& name, const std::vector<int64_t>& v) {
    node_->add_input(name);
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(::onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(v.size()));
    for (int64_t i : v) t->add_int64_data(i);
  }
  void attr_ints(const std::string& name, const std::vector<int64_t>& v) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::INTS);
    for (int64_t i : v) a->add_ints(i);
  }
  void attr_int(const std::string& name, int64_t v) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::INT);
    a->set_i(v);
  }
  void attr_floats(const std::string& name, const std::vector<float>& v) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::FLOATS);
    for (float f : v) a->add_floats(f);
  }
  void attr_string(const std::string& name, const std::string& v) {
    auto* a = node_->add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::STRING);
    a->set_s(v);
  }

  std::vector<Tensor> run(const Tensor& x) {
    if (node_->output_size() == 0) add_output("y");
    Network net = parse_onnx_bytes(model_.SerializeAsString(), "test");
    auto engine = build_engine(net, BuilderConfig{});
    return engine->create_execution_context()->execute({{"x", x}});
  }

 private:
  ::onnx::ModelProto model_;
  ::onnx::NodeProto* node_ = nullptr;
};

Tensor m23() {
  return make<float>(DataType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
}

TEST(ReductionImportTest, ReduceSumOpset11AxesAttributeBecomesInput) {
  OneNodeModel m("ReduceSum", 11, {2, 3});
  m.attr_ints("axes", {1});
  m.attr_int("keepdims", 0);
  auto y = m.run(m23());
  EXPECT_EQ(y[0].shape(), Shape{2});
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{6, 15}));
}

TEST(ReductionImportTest, ReduceMaxOpset13AxesAttributeBecomesInput) {
  OneNodeModel m("ReduceMax", 13, {2, 3});
  m.attr_ints("axes", {0});
  auto y = m.run(m23());
  EXPECT_EQ(y[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{4, 5, 6}));
}

TEST(ReductionImportTest, ReduceSumOpset13KeepsAxesInput) {
  OneNodeModel m("ReduceSum", 13, {2, 3});
  m.add_ints_init("axes", {0});
  auto y = m.run(m23());
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionImportTest, TopKOpset1KAttributeBecomesInput) {
  OneNodeModel m("TopK", 1, {2, 3});
  m.attr_int("k", 1);
  m.add_output("values");
  m.add_output("indices");
  auto y = m.run(m23());
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{3, 6}));
  EXPECT_EQ(test::values<int64_t>(y[1]), (std::vector<int64_t>{2, 2}));
}

TEST(ReductionImportTest, Upsample7BecomesNearestResize) {
  OneNodeModel m("Upsample", 7, {1, 2});
  m.attr_floats("scales", {1, 2});
  auto y = m.run(make<float>(DataType::kFloat32, {1, 2}, {1, 2}));
  EXPECT_EQ(y[0].shape(), (Shape{1, 4}));
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{1, 1, 2, 2}));
}

TEST(ReductionImportTest, Upsample9LinearIsAsymmetric) {
  OneNodeModel m("Upsample", 9, {1, 2});
  m.add_floats_init("scales", {1, 2});
  m.attr_string("mode", "linear");
  auto y = m.run(make<float>(DataType::kFloat32, {1, 2}, {1, 2}));
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{1, 1.5f, 2, 2}));
}

TEST(ReductionImportTest, Resize10TakesScalesAsSecondInput) {
  OneNodeModel m("Resize", 10, {1, 4});
  m.add_floats_init("scales", {1, 0.5f});
  auto y = m.run(make<float>(DataType::kFloat32, {1, 4}, {1, 2, 3, 4}));
  // Asymmetric floor sampling: x = 0, 2.
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{1, 3}));
}

TEST(ReductionImportTest, Resize11EmptyRoiAndScalesAreDropped) {
  OneNodeModel m("Resize", 11, {1, 2});
  m.add_floats_init("roi", {});
  m.add_floats_init("scales", {});
  m.add_ints_init("sizes", {1, 4});
  m.attr_string("mode", "linear");
  m.attr_string("coordinate_transformation_mode", "align_corners");
  auto y = m.run(make<float>(DataType::kFloat32, {1, 2}, {0, 3}));
  EXPECT_EQ(test::values<float>(y[0]), (std::vector<float>{0, 1, 2, 3}));
}

TEST(ReductionImportTest, QuantizeLinear10PerTensor) {
  OneNodeModel m("QuantizeLinear", 10, {3});
  m.add_floats_init("scale", {2});
  auto y = m.run(make<float>(DataType::kFloat32, {3}, {1, 3, 5}));
  EXPECT_EQ(test::values<uint8_t>(y[0]), (std::vector<uint8_t>{0, 2, 2}));
}

}  // namespace
}  // namespace kiln
