// supports_onnx_op (kiln.hpp): the ONNX op types the importer takes — Constant, which becomes a
// constant tensor, and every op of the op table, which keeps its ONNX name (importer.cpp).
#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"

namespace kiln {

bool supports_onnx_op(std::string_view op_type) {
  std::string op(op_type);
  return op == "Constant" || ir::OpRegistry::instance().find(op) != nullptr;
}

}  // namespace kiln
