// Import rewrites of the extra family for older opsets, checked end to end on one-node models:
// RoiAlign opset 10 samples the output_half_pixel way, GridSample opset 16's bilinear/bicubic
// names map onto linear/cubic.
#include <gtest/gtest.h>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "onnx/importer.hpp"

namespace kiln::onnx {
namespace {

namespace pb = ::onnx;

struct Input {
  Shape shape;
  int elem_type = pb::TensorProto::FLOAT;
};

// A model with one node `op` at `opset` whose inputs x0, x1, ... are graph inputs.
struct OneNodeModel {
  pb::ModelProto model;
  pb::NodeProto* node;

  OneNodeModel(const std::string& op, int opset, const std::vector<Input>& inputs) {
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
      tt->set_elem_type(inputs[i].elem_type);
      for (int64_t d : inputs[i].shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
      node->add_input(in->name());
    }
    node->add_output("y0");
    g->add_output()->set_name("y0");
  }
  void set_int(const std::string& name, int64_t v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::INT);
    a->set_i(v);
  }
  void set_string(const std::string& name, const std::string& v) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(pb::AttributeProto::STRING);
    a->set_s(v);
  }
};

Tensor run(const OneNodeModel& m, const std::vector<Tensor>& inputs) {
  Network net = parse_onnx_bytes(m.model.SerializeAsString(), "test model");
  auto engine = build_engine(net, BuilderConfig{});
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) feeds["x" + std::to_string(i)] = inputs[i];
  return engine->create_execution_context()->execute(feeds)[0];
}

Tensor f32(Shape s, std::vector<float> v) {
  return Tensor::from_vector(DataType::kFloat32, std::move(s), v);
}

// RoiAlign of a 1x4 ramp image (value = x) over box x in [0, 2] with one sample per bin.
float roi_align_first_bin(int opset, const std::string& mode) {
  OneNodeModel m("RoiAlign", opset, {{{1, 1, 1, 4}}, {{1, 4}}, {{1}, pb::TensorProto::INT64}});
  m.set_int("output_height", 1);
  m.set_int("output_width", 2);
  m.set_int("sampling_ratio", 1);
  if (!mode.empty()) m.set_string("coordinate_transformation_mode", mode);
  Tensor y = run(m, {f32({1, 1, 1, 4}, {0, 1, 2, 3}), f32({1, 4}, {0, 0, 2, 0}),
                     Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{0})});
  return y.data<float>()[0];
}

TEST(ExtraImport, RoiAlignOpset10UsesOutputHalfPixel) {
  EXPECT_NEAR(roi_align_first_bin(10, ""), 0.5f, 1e-6);  // sample at x = 0.5
  EXPECT_NEAR(roi_align_first_bin(16, ""), 0.0f, 1e-6);  // half_pixel: x = -0.5 + 0.5
  EXPECT_NEAR(roi_align_first_bin(16, "output_half_pixel"), 0.5f, 1e-6);
}

TEST(ExtraImport, GridSampleOpset16ModeNames) {
  for (const char* mode : {"bilinear", "bicubic", "nearest"}) {
    OneNodeModel m("GridSample", 16, {{{1, 1, 2, 2}}, {{1, 1, 1, 2}}});
    m.set_string("mode", mode);
    m.set_int("align_corners", 1);
    // Sampling at a pixel center returns that pixel in every mode.
    Tensor y = run(m, {f32({1, 1, 2, 2}, {1, 2, 3, 4}), f32({1, 1, 1, 2}, {1, -1})});
    EXPECT_NEAR(y.data<float>()[0], 2.0f, 1e-6) << mode;
  }
}

TEST(ExtraImport, GridSampleOpset20RejectsOldModeName) {
  OneNodeModel m("GridSample", 20, {{{1, 1, 2, 2}}, {{1, 1, 1, 2}}});
  m.set_string("mode", "bilinear");
  EXPECT_THROW(
      {
        Network net = parse_onnx_bytes(m.model.SerializeAsString(), "test model");
        build_engine(net, BuilderConfig{});
      },
      Error);
}

}  // namespace
}  // namespace kiln::onnx
