// ONNX import of the quantization op family. QuantizeLinear/DequantizeLinear keep their form
// across opsets 10..25 (later opsets only add attributes whose defaults match the older
// behaviour), so import only rejects what kiln cannot run.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::onnx {
namespace {

void check_dtype_attr(const ir::Node& node, const char* attr) {
  int64_t code = node.attrs.get_int(attr, 0);
  if (code != 0 && !from_onnx_dtype(static_cast<int32_t>(code))) {
    fail(ErrorCode::kUnsupported, node.describe(), ": ", attr, " ",
         onnx_dtype_name(static_cast<int32_t>(code)), " is a type kiln does not have");
  }
}

void import_quantize(ImportContext&, ir::Node& node) {
  check_dtype_attr(node, "output_dtype");
  check_dtype_attr(node, "precision");
  int64_t p = node.attrs.get_int("precision", 0);
  // precision: the float type x / scale is computed in (0: the input's type).
  if (p != 0 && p != 1 && p != 10 && p != 11 && p != 16) {
    fail(ErrorCode::kUnsupported, node.describe(), ": precision ",
         onnx_dtype_name(static_cast<int32_t>(p)), " is not a float type");
  }
}

void import_dequantize(ImportContext&, ir::Node& node) {
  check_dtype_attr(node, "output_dtype");
}

}  // namespace

void register_quantization_importers(ImporterTable& t) {
  t.add("QuantizeLinear", import_quantize);
  t.add("DequantizeLinear", import_dequantize);
}

}  // namespace kiln::onnx
