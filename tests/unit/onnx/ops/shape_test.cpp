// ONNX import of the shape family's older opsets: attributes that became inputs, the deprecated
// Scatter, EyeLike's dtype code; each model is imported and run, so the rewrite is checked by the
// numbers it gives.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"

namespace kiln {
namespace {

namespace pb = ::onnx;

// One-node model: float inputs named in0.. of the given shapes, output "y".
struct ModelBuilder {
  pb::ModelProto m;
  pb::NodeProto* node;

  ModelBuilder(const std::string& op, int opset, const std::vector<Shape>& inputs,
               int elem_type = pb::TensorProto::FLOAT) {
    m.set_ir_version(7);
    m.add_opset_import()->set_version(opset);
    auto* g = m.mutable_graph();
    g->set_name("g");
    node = g->add_node();
    node->set_op_type(op);
    node->set_name("n");
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto* in = g->add_input();
      in->set_name("in" + std::to_string(i));
      in->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
      auto* s = in->mutable_type()->mutable_tensor_type()->mutable_shape();
      for (int64_t d : inputs[i]) s->add_dim()->set_dim_value(d);
      node->add_input(in->name());
    }
    node->add_output("y");
    g->add_output()->set_name("y");
  }
  void ints(const std::string& name, std::vector<int64_t> v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  void integer(const std::string& name, int64_t v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  void real(const std::string& name, float v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::FLOAT);
    a->set_f(v);
  }
  void string(const std::string& name, const std::string& v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::STRING);
    a->set_s(v);
  }
  std::vector<Tensor> run(const std::vector<Tensor>& feeds) const {
    Network net = parse_onnx_bytes(m.SerializeAsString(), "test model");
    auto engine = build_engine(net, BuilderConfig{});
    std::map<std::string, Tensor> in;
    for (size_t i = 0; i < feeds.size(); ++i) in["in" + std::to_string(i)] = feeds[i];
    return engine->create_execution_context()->execute(in);
  }
};

Tensor iota(Shape s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector(DataType::kFloat32, std::move(s), v);
}

std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

TEST(ShapeImport, ReshapeOpset4ShapeAttribute) {
  ModelBuilder b("Reshape", 4, {{2, 3}});
  b.ints("shape", {3, -1});
  auto out = b.run({iota({2, 3})});
  EXPECT_EQ(out[0].shape(), (Shape{3, 2}));
}

TEST(ShapeImport, SliceOpset9Attributes) {
  ModelBuilder b("Slice", 9, {{3, 4}});
  b.ints("starts", {1, -1});
  b.ints("ends", {1000, 0});
  b.ints("axes", {0, 1});
  auto out = b.run({iota({3, 4})});
  // Opset 9 has no steps: [1:, -1:0] is empty along axis 1.
  EXPECT_EQ(out[0].shape(), (Shape{2, 0}));
}

TEST(ShapeImport, SqueezeAndUnsqueezeOpset11Axes) {
  ModelBuilder s("Squeeze", 11, {{1, 3, 1}});
  s.ints("axes", {-1});
  EXPECT_EQ(s.run({iota({1, 3, 1})})[0].shape(), (Shape{1, 3}));
  ModelBuilder u("Unsqueeze", 11, {{3}});
  u.ints("axes", {0, 2});
  EXPECT_EQ(u.run({iota({3})})[0].shape(), (Shape{1, 3, 1}));
}

TEST(ShapeImport, SplitOpset11SizesAttribute) {
  ModelBuilder b("Split", 11, {{5}});
  b.ints("split", {1, 4});
  b.node->clear_output();
  b.node->add_output("y");
  b.node->add_output("z");
  b.m.mutable_graph()->add_output()->set_name("z");
  auto out = b.run({iota({5})});
  EXPECT_EQ(out[0].shape(), (Shape{1}));
  EXPECT_EQ(floats(out[1]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(ShapeImport, PadOpset10AttributesAndFillValue) {
  ModelBuilder b("Pad", 10, {{2}});
  b.ints("pads", {1, 2});
  b.real("value", 1.5f);
  b.string("mode", "constant");
  auto out = b.run({iota({2})});
  EXPECT_EQ(floats(out[0]), (std::vector<float>{1.5f, 0, 1, 1.5f, 1.5f}));
  ModelBuilder old("Pad", 1, {{2}});
  old.ints("paddings", {0, 1});
  old.string("mode", "edge");
  EXPECT_EQ(floats(old.run({iota({2})})[0]), (std::vector<float>{0, 1, 1}));
}

TEST(ShapeImport, ScatterBecomesScatterElements) {
  ModelBuilder b("Scatter", 10, {{1, 3}});
  auto* g = b.m.mutable_graph();
  auto* idx = g->add_initializer();
  idx->set_name("idx");
  idx->set_data_type(pb::TensorProto::INT64);
  idx->add_dims(1);
  idx->add_dims(1);
  idx->add_int64_data(-1);
  auto* upd = g->add_initializer();
  upd->set_name("upd");
  upd->set_data_type(pb::TensorProto::FLOAT);
  upd->add_dims(1);
  upd->add_dims(1);
  upd->add_float_data(9);
  b.node->add_input("idx");
  b.node->add_input("upd");
  b.integer("axis", 1);
  EXPECT_EQ(floats(b.run({iota({1, 3})})[0]), (std::vector<float>{0, 1, 9}));
}

TEST(ShapeImport, DropoutOpset10RatioAttributeIsInferenceIdentity) {
  ModelBuilder b("Dropout", 10, {{3}});
  b.real("ratio", 0.3f);
  EXPECT_EQ(floats(b.run({iota({3})})[0]), (std::vector<float>{0, 1, 2}));
}

TEST(ShapeImport, EyeLikeDtypeCode) {
  ModelBuilder b("EyeLike", 9, {{2, 2}});
  b.integer("dtype", pb::TensorProto::INT32);
  auto out = b.run({iota({2, 2})});
  ASSERT_EQ(out[0].dtype(), DataType::kInt32);
  EXPECT_EQ(std::vector<int32_t>(out[0].data<int32_t>(), out[0].data<int32_t>() + 4),
            (std::vector<int32_t>{1, 0, 0, 1}));
  ModelBuilder bad("EyeLike", 9, {{2, 2}});
  bad.integer("dtype", pb::TensorProto::STRING);
  try {
    bad.run({iota({2, 2})});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("node 'n'"), std::string::npos);
  }
}

TEST(ShapeImport, TileBeforeOpset6IsReportedUnsupported) {
  ModelBuilder b("Tile", 5, {{2}, {1}, {1}});
  try {
    b.run({iota({2}), iota({1}), iota({1})});
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("Tile before opset 6"), std::string::npos);
  }
}

TEST(ShapeImport, ConcatOpset1DefaultAxisIsOne) {
  ModelBuilder b("Concat", 1, {{2, 1}, {2, 1}});
  auto out = b.run({iota({2, 1}), iota({2, 1})});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
}

}  // namespace
}  // namespace kiln
