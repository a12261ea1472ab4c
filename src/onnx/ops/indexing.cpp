// ONNX import of the indexing op family: Scatter (opsets 9-10) is ScatterElements by its old name.
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// Scatter (opset 9-10) is ScatterElements under its old name.
void import_scatter(ImportContext&, ir::Node& node) {
  node.op = "ScatterElements";
}

}  // namespace

void register_indexing_importers(ImporterTable& t) {
  t.add("Scatter", import_scatter);
}

}  // namespace kiln::onnx
