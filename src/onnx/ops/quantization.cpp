// ONNX import of the quantization op family.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_quantization_importers(ImporterTable& t) {}

}  // namespace kiln::onnx
