// The ONNX importers' registration functions, each adding the import functions of one op family
// (ir/op_family.hpp) from src/onnx/ops/<family>.cpp or a helper file named <family>_*.cpp; a
// family whose ops import as they are has none. import_context.cpp lists them with their families
// and calls them all; nothing else does.
#pragma once

namespace kiln::onnx {

class ImporterTable;

void register_elementwise_importers(ImporterTable& t);
void register_matmul_importers(ImporterTable& t);
void register_pool_importers(ImporterTable& t);
void register_normalization_importers(ImporterTable& t);
void register_softmax_importers(ImporterTable& t);
void register_reduction_importers(ImporterTable& t);
void register_shape_importers(ImporterTable& t);
void register_indexing_importers(ImporterTable& t);
void register_image_importers(ImporterTable& t);
void register_image_resize_importers(ImporterTable& t);
void register_generators_importers(ImporterTable& t);
void register_quantization_importers(ImporterTable& t);
void register_control_flow_importers(ImporterTable& t);

}  // namespace kiln::onnx
