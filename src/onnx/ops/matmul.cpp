// ONNX import of the matmul op family: Gemm before opset 7 had a `broadcast` flag.
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

void import_gemm(ImportContext& ctx, ir::Node& node) {
  // Opsets before 7 had a `broadcast` flag; later opsets always broadcast C.
  node.attrs.erase("broadcast");
}

}  // namespace

void register_matmul_importers(ImporterTable& t) {
  t.add("Gemm", import_gemm);
}

}  // namespace kiln::onnx
