// ONNX import of the nn op family.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_nn_importers(ImporterTable& t) {}

}  // namespace kiln::onnx
