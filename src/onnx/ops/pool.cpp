// ONNX import of the pool op family: LpPool and GlobalLpPool of opset 1 stored p as a float.
#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

void import_lp_pool(ImportContext& ctx, ir::Node& node) {
  if (!node.attrs.has("p")) return;
  // Opset 1 stored p as a float.
  const ir::AttrValue& v = node.attrs.all().at("p");
  if (const float* f = std::get_if<float>(&v)) {
    auto p = static_cast<int64_t>(*f);
    if (static_cast<float>(p) != *f)
      fail(ErrorCode::kUnsupported, "LpPool with a non-integer p is not supported");
    node.attrs.set("p", p);
  }
}

}  // namespace

void register_pool_importers(ImporterTable& t) {
  t.add("LpPool", import_lp_pool);
  t.add("GlobalLpPool", import_lp_pool);
}

}  // namespace kiln::onnx
