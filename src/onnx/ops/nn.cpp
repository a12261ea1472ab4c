// ONNX import of the nn op family: rewrites older opsets' attributes into kiln's canonical form
// (the newest opset's semantics), using two kiln attributes where the old meaning has no newer
// spelling: coerce_2d on Softmax/LogSoftmax/Hardmax (opset < 13) and scale_per_group on
// GroupNormalization (opset 18).
#include "core/error.hpp"
#include "onnx/import_context.hpp"

namespace kiln::onnx {
namespace {

// The importer prefixes the node's name and op to the reason.
[[noreturn]] void unsupported(const std::string& why) {
  fail(ErrorCode::kUnsupported, why);
}

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

void import_batch_norm(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("consumed_inputs");
  if (node.attrs.has("spatial")) {
    if (node.attrs.get_int("spatial") == 0)
      unsupported("spatial=0 (per-activation statistics) is not supported");
    node.attrs.erase("spatial");
  }
  bool is_test = node.attrs.get_int("is_test", ctx.opset >= 7 ? 1 : 0) != 0;
  node.attrs.erase("is_test");
  if (ctx.opset >= 14) return;
  // Before opset 14, training was signalled by the extra outputs (mean, var, saved_mean,
  // saved_var), or by is_test=0 before opset 7.
  bool extra_outputs = false;
  for (size_t i = 1; i < node.outputs.size(); ++i) extra_outputs |= node.outputs[i] != nullptr;
  if (!extra_outputs) {
    node.outputs.resize(1);
    return;
  }
  if (is_test && ctx.opset < 7) {
    node.outputs.resize(1);
    return;
  }
  for (size_t i = 3; i < node.outputs.size(); ++i) {
    if (node.outputs[i])
      unsupported("training-mode outputs saved_mean and saved_var are not supported");
  }
  node.outputs.resize(std::min<size_t>(node.outputs.size(), 3));
  node.attrs.set("training_mode", int64_t{1});
}

void import_instance_norm(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("consumed_inputs");
}

void import_gemm(ImportContext& ctx, ir::Node& node) {
  // Opsets before 7 had a `broadcast` flag; later opsets always broadcast C.
  node.attrs.erase("broadcast");
}

void import_group_norm(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("scale_per_group");  // kiln's own attribute; never taken from a file
  // Opset 18 gave scale and bias one value per group; opset 21 one per channel.
  if (ctx.opset < 21) node.attrs.set("scale_per_group", int64_t{1});
}

void import_lp_pool(ImportContext& ctx, ir::Node& node) {
  if (!node.attrs.has("p")) return;
  // Opset 1 stored p as a float.
  const ir::AttrValue& v = node.attrs.all().at("p");
  if (const float* f = std::get_if<float>(&v)) {
    auto p = static_cast<int64_t>(*f);
    if (static_cast<float>(p) != *f) unsupported("LpPool with a non-integer p is not supported");
    node.attrs.set("p", p);
  }
}

}  // namespace

void register_nn_importers(ImporterTable& t) {
  t.add("Softmax", import_softmax_like);
  t.add("LogSoftmax", import_softmax_like);
  t.add("Hardmax", import_softmax_like);
  t.add("BatchNormalization", import_batch_norm);
  t.add("InstanceNormalization", import_instance_norm);
  t.add("Gemm", import_gemm);
  t.add("GroupNormalization", import_group_norm);
  t.add("LpPool", import_lp_pool);
  t.add("GlobalLpPool", import_lp_pool);
}

}  // namespace kiln::onnx
