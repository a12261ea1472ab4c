// ONNX import of the shape op family: rewrites every older opset's form (attributes that later
// became inputs, deprecated forms) into the newest opset's semantics.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::onnx {
namespace {

void unsupported(const ir::Node& node, const std::string& why) {
  fail(ErrorCode::kUnsupported, node.describe(), ": ", why);
}

// Opset 1-4 Reshape took the target shape as an attribute.
void import_reshape(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("consumed_inputs");
  if (ctx.opset < 5) ctx.attribute_to_input(node, "shape", 1);
  if (node.inputs.size() < 2 || !node.inputs[1]) unsupported(node, "Reshape has no target shape");
}

// Opset 1-12 Squeeze/Unsqueeze took axes as an attribute.
void import_squeeze(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 13) ctx.attribute_to_input(node, "axes", 1);
}

// Opset 1-12 Split took the sizes as an attribute (opset 1 also allowed an input).
void import_split(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 13) ctx.attribute_to_input(node, "split", 1);
}

// Opset 1-9 Slice took starts, ends and axes as attributes.
void import_slice(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset >= 10) return;
  ctx.attribute_to_input(node, "starts", 1);
  ctx.attribute_to_input(node, "ends", 2);
  ctx.attribute_to_input(node, "axes", 3);
}

// Opset 1-10 Pad took pads (opset 1: "paddings") and the fill value as attributes.
void import_pad(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset >= 11) return;
  if (node.attrs.has("paddings")) {
    node.attrs.set("pads", node.attrs.get_ints("paddings"));
    node.attrs.erase("paddings");
  }
  ctx.attribute_to_input(node, "pads", 1);
  float value = node.attrs.get_float("value", 0.0f);
  node.attrs.erase("value");
  // The data's dtype is not known until inference; the Pad kernel converts the fill value to it.
  ImportContext::set_input(
      node, 2,
      ctx.constant(node.name + "_value",
                   Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{value})));
}

// Opset 1-3 Concat had a default axis of 1.
void import_concat(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 4 && !node.attrs.has("axis")) node.attrs.set("axis", int64_t{1});
}

// Opset 1-11 Dropout took ratio as an attribute and had no training mode (is_test in 1-6).
void import_dropout(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset >= 12) return;
  node.attrs.erase("is_test");
  node.attrs.erase("consumed_inputs");
  if (node.attrs.has("ratio")) {
    float ratio = node.attrs.get_float("ratio");
    node.attrs.erase("ratio");
    ImportContext::set_input(
        node, 1,
        ctx.constant(node.name + "_ratio",
                     Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{ratio})));
  }
}

// Opset 1-5 Tile took (tiles, axis) inputs instead of one repeats per dimension.
void import_tile(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 6)
    unsupported(node, "Tile before opset 6 (tiles and axis inputs) is not supported");
}

}  // namespace

void register_shape_importers(ImporterTable& t) {
  t.add("Reshape", import_reshape);
  t.add("Squeeze", import_squeeze);
  t.add("Unsqueeze", import_squeeze);
  t.add("Split", import_split);
  t.add("Slice", import_slice);
  t.add("Pad", import_pad);
  t.add("Concat", import_concat);
  t.add("Dropout", import_dropout);
  t.add("Tile", import_tile);
}

}  // namespace kiln::onnx
