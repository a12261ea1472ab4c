// ONNX import of the control-flow ops. The importer core already turned their graph attributes
// into closed subgraphs (with captured outer values appended as inputs); If and Loop keep their
// form from opset 1 on. Scan before opset 9 had a batch axis and sequence lengths, which kiln does
// not run.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

void import_scan(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset < 9) {
    fail(
        ErrorCode::kUnsupported, node.describe(), ": Scan of opset ", ctx.opset,
        " (with a batch axis and sequence_lens) is not supported; re-export with opset 9 or newer");
  }
}

}  // namespace

void register_control_flow_importers(ImporterTable& t) {
  t.add("Scan", import_scan);
}

}  // namespace kiln::onnx
