// ONNX import of the softmax op family: before opset 13 Softmax, LogSoftmax and Hardmax worked on
// the input flattened to 2-D, which kiln's attribute coerce_2d keeps where the axis is not the
// last.
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// Before opset 13 these ops flattened the input to 2-D at `axis` (default 1) and worked on each
// row; from 13 on they work along the single `axis` (default -1).
void import_softmax_like(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("coerce_2d");  // kiln's own attribute; never taken from a file
  if (ctx.opset >= 13) return;
  int64_t axis = node.attrs.get_int("axis", 1);
  node.attrs.set("axis", axis);
  const ir::Value* x = node.input(0);
  if (x && x->shape) {
    auto rank = static_cast<int64_t>(x->shape->size());
    // Coercing at the last axis is the same as the single-axis form.
    if (axis == rank - 1 || axis == -1) return;
  }
  node.attrs.set("coerce_2d", int64_t{1});
}

}  // namespace

void register_softmax_importers(ImporterTable& t) {
  t.add("Softmax", import_softmax_like);
  t.add("LogSoftmax", import_softmax_like);
  t.add("Hardmax", import_softmax_like);
}

}  // namespace kiln::onnx
