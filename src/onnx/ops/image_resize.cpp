// ONNX import of the image family's Resize and Upsample into kiln's canonical Resize: inputs (X,
// roi, scales, sizes) with opset-19 attributes.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// Opsets 11 and 12 required roi and scales inputs, so models pass empty tensors for unused ones.
void drop_empty_constant(ir::Node& node, size_t index) {
  ir::Value* v = node.input(index);
  if (v && v->constant && v->constant->numel() == 0) node.inputs[index] = nullptr;
}

void import_resize(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 11) {
    // Resize-10: (X, scales), same semantics as Upsample: asymmetric coordinates, and nearest
    // picks the floor.
    ir::Value* scales = node.input(1);
    node.inputs.resize(1);
    ImportContext::set_input(node, 2, scales);
    node.attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
    node.attrs.set("nearest_mode", std::string("floor"));
  }
  drop_empty_constant(node, 1);
  drop_empty_constant(node, 2);
  drop_empty_constant(node, 3);
}

// Upsample-7 held scales as an attribute, Upsample-9 as an input; both become Resize.
void import_upsample(ImportContext& ctx, ir::Node& node) {
  ir::Value* scales = node.input(1);
  if (node.attrs.has("scales")) {
    std::vector<float> s = node.attrs.get_floats("scales");
    node.attrs.erase("scales");
    scales =
        ctx.constant(node.name + "_scales",
                     Tensor::from_vector(DataType::kFloat32, {static_cast<int64_t>(s.size())}, s));
  }
  if (!scales) fail(ErrorCode::kInvalidModel, node.describe(), ": Upsample needs scales");
  std::string mode = node.attrs.get_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "bilinear")
    fail(ErrorCode::kUnsupported, node.describe(), ": Upsample mode '", mode, "' is unknown");
  node.op = "Resize";
  node.inputs.resize(1);
  ImportContext::set_input(node, 2, scales);
  node.attrs.set("mode", std::string(mode == "nearest" ? "nearest" : "linear"));
  node.attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  node.attrs.set("nearest_mode", std::string("floor"));
}

}  // namespace

void register_image_resize_importers(ImporterTable& t) {
  t.add("Resize", import_resize);
  t.add("Upsample", import_upsample);
}

}  // namespace kiln::onnx
