// ONNX import of the reduction op family.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_reduction_importers(ImporterTable& t) {}

}  // namespace kiln::onnx
