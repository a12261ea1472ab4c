// ONNX import of the image op family: rewrites older opsets of RoiAlign (opset 10 aligned its
// samples the output_half_pixel way, with no attribute to say so) and GridSample (opset 16 named
// its modes bilinear/bicubic) into the newest opset's spelling (Resize, Upsample:
// image_resize.cpp).
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

void import_roi_align(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 16 && !node.attrs.has("coordinate_transformation_mode"))
    node.attrs.set("coordinate_transformation_mode", std::string("output_half_pixel"));
}

void import_grid_sample(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset >= 20) return;
  std::string mode = node.attrs.get_string("mode", "bilinear");
  if (mode == "bilinear") mode = "linear";
  if (mode == "bicubic") mode = "cubic";
  node.attrs.set("mode", mode);
}

}  // namespace

void register_image_importers(ImporterTable& t) {
  t.add("RoiAlign", import_roi_align);
  t.add("GridSample", import_grid_sample);
}

}  // namespace kiln::onnx
