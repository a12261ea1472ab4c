// Shared helpers for op import functions, and the importer table.
#include "onnx/import_context.hpp"

namespace kiln::onnx {

ir::Value* ImportContext::constant(const std::string& base_name, Tensor data) {
  return graph.add_constant(graph.unique_value_name(base_name), std::move(data));
}

ir::Value* ImportContext::constant_ints(const std::string& base_name,
                                        const std::vector<int64_t>& values) {
  return constant(base_name, Tensor::from_vector(DataType::kInt64,
                                                 {static_cast<int64_t>(values.size())}, values));
}

void ImportContext::attribute_to_input(ir::Node& node, const std::string& attr, size_t index) {
  if (!node.attrs.has(attr)) return;
  std::vector<int64_t> v = node.attrs.get_ints(attr);
  node.attrs.erase(attr);
  set_input(node, index, constant_ints(node.name + "_" + attr, v));
}

void ImportContext::set_input(ir::Node& node, size_t index, ir::Value* v) {
  if (node.inputs.size() <= index) node.inputs.resize(index + 1, nullptr);
  node.inputs[index] = v;
}

const ImporterTable& ImporterTable::instance() {
  static const ImporterTable table = [] {
    ImporterTable t;
    register_elementwise_importers(t);
    register_nn_importers(t);
    register_reduction_importers(t);
    register_shape_importers(t);
    register_quantization_importers(t);
    register_extra_importers(t);
    register_control_flow_importers(t);
    return t;
  }();
  return table;
}

ImportFn ImporterTable::find(const std::string& op) const {
  auto it = fns_.find(op);
  return it == fns_.end() ? nullptr : it->second;
}

}  // namespace kiln::onnx
