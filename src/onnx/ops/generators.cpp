// ONNX import of the generators op family: EyeLike's dtype attribute is an ONNX type code, which
// kiln's canonical form spells as a type name.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::onnx {
namespace {

// EyeLike's dtype attribute is an ONNX type code; kiln's canonical form names the dtype.
void import_eye_like(ImportContext&, ir::Node& node) {
  if (!node.attrs.has("dtype")) return;
  auto code = static_cast<int32_t>(node.attrs.get_int("dtype"));
  auto dtype = from_onnx_dtype(code);
  if (!dtype)
    fail(ErrorCode::kUnsupported, node.describe(), ": dtype ", onnx_dtype_name(code),
         " is not supported by kiln");
  node.attrs.set("dtype", std::string(to_string(*dtype)));
}

}  // namespace

void register_generators_importers(ImporterTable& t) {
  t.add("EyeLike", import_eye_like);
}

}  // namespace kiln::onnx
