// ONNX import of the elementwise op family.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_elementwise_importers(ImporterTable& t) {}

}  // namespace kiln::onnx
