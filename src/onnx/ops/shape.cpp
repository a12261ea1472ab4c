// ONNX import of the shape op family.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_shape_importers(ImporterTable& t) {}

}  // namespace kiln::onnx
