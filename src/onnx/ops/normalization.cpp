// ONNX import of the normalization op family: rewrites older opsets' attributes into kiln's
// canonical form (the newest opset's semantics), with a kiln attribute where the old meaning has
// no newer spelling: scale_per_group on GroupNormalization (opset 18).
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// The importer prefixes the node's name and op to the reason.
[[noreturn]] void unsupported(const std::string& why) {
  fail(ErrorCode::kUnsupported, why);
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

void import_group_norm(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("scale_per_group");  // kiln's own attribute; never taken from a file
  // Opset 18 gave scale and bias one value per group; opset 21 one per channel.
  if (ctx.opset < 21) node.attrs.set("scale_per_group", int64_t{1});
}

}  // namespace

void register_normalization_importers(ImporterTable& t) {
  t.add("BatchNormalization", import_batch_norm);
  t.add("InstanceNormalization", import_instance_norm);
  t.add("GroupNormalization", import_group_norm);
}

}  // namespace kiln::onnx
