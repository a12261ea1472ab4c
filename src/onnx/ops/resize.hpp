// ONNX import of Resize (opsets 10..19) and Upsample, registered from the reduction family.
#pragma once

#include "onnx/import_context.hpp"

namespace kiln::onnx {

void register_resize_importers(ImporterTable& t);

}  // namespace kiln::onnx
