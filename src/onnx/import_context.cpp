// Shared helpers for op import functions, and the importer table.
#include "onnx/import_context.hpp"

#include "ir/family_registration.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// Every registration function of onnx/ops/families.hpp, with the family whose importers it adds.
constexpr ir::FamilyRegistration<ImporterTable> kImporterFamilyRegistrations[] = {
    {ir::OpFamily::kElementwise, register_elementwise_importers},
    {ir::OpFamily::kMatmul, register_matmul_importers},
    {ir::OpFamily::kPool, register_pool_importers},
    {ir::OpFamily::kNormalization, register_normalization_importers},
    {ir::OpFamily::kSoftmax, register_softmax_importers},
    {ir::OpFamily::kReduction, register_reduction_importers},
    {ir::OpFamily::kShape, register_shape_importers},
    {ir::OpFamily::kIndexing, register_indexing_importers},
    {ir::OpFamily::kImage, register_image_importers},
    {ir::OpFamily::kImage, register_image_resize_importers},
    {ir::OpFamily::kGenerators, register_generators_importers},
    {ir::OpFamily::kQuantization, register_quantization_importers},
    {ir::OpFamily::kControlFlow, register_control_flow_importers},
};

}  // namespace

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
    for (const auto& family : kImporterFamilyRegistrations) {
      t.registering_ = family.family;
      family.add(t);
    }
    return t;
  }();
  return table;
}

void ImporterTable::add(const std::string& op, ImportFn fn) {
  fns_[op] = fn;
  families_.emplace_back(op, registering_);
}

ImportFn ImporterTable::find(const std::string& op) const {
  auto it = fns_.find(op);
  return it == fns_.end() ? nullptr : it->second;
}

}  // namespace kiln::onnx
