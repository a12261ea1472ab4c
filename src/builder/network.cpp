// Defining a Network layer by layer (the alternative to ONNX import): inputs, constants, layers
// checked by type/shape inference as they are added, outputs.
#include <algorithm>
#include <unordered_set>

#include "core/error.hpp"
#include "ir/op_registry.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

ir::Graph& graph_of(Network::Impl& impl) {
  if (!impl.graph) fail(ErrorCode::kInternal, "network has no graph");
  return *impl.graph;
}

void require_new_tensor_name(const ir::Graph& g, const std::string& name, const char* what) {
  if (name.empty()) fail(ErrorCode::kInvalidArgument, "network ", what, " needs a name");
  if (g.find_value(name)) {
    fail(ErrorCode::kInvalidArgument, "network ", what, " '", name,
         "': a tensor of that name already exists");
  }
}

}  // namespace

std::string Network::add_input(const std::string& name, DataType dtype,
                               const std::vector<int64_t>& dims) {
  ir::Graph& g = graph_of(*impl_);
  require_new_tensor_name(g, name, "input");
  ir::SymShape shape;
  for (int64_t d : dims) {
    if (d < -1) {
      fail(ErrorCode::kInvalidArgument, "network input '", name, "' has dimension ", d,
           " (use -1 for one fixed at run time)");
    }
    shape.push_back(d == -1 ? ir::Dim() : ir::Dim(d));
  }
  g.inputs().push_back(g.add_value(name, dtype, std::move(shape)));
  return name;
}

std::string Network::add_constant(const std::string& name, const Tensor& value) {
  ir::Graph& g = graph_of(*impl_);
  require_new_tensor_name(g, name, "constant");
  if (!value.defined()) {
    fail(ErrorCode::kInvalidArgument, "network constant '", name, "' has no data");
  }
  g.add_constant(name, value.clone());
  return name;
}

std::vector<std::string> Network::add_layer(const std::string& op,
                                            const std::vector<std::string>& inputs,
                                            const LayerAttributes& attributes,
                                            const std::string& name, int num_outputs) {
  ir::Graph& g = graph_of(*impl_);
  const ir::OpSchema* schema = ir::OpRegistry::instance().find(op);
  std::string layer =
      name.empty() ? g.unique_node_name(op + "_" + std::to_string(g.nodes().size())) : name;
  if (!schema)
    fail(ErrorCode::kInvalidArgument, "network layer '", layer, "': unknown op '", op, "'");
  // (A taken name is one the graph's name index would not hand out as it is.)
  if (!name.empty() && g.unique_node_name(layer) != layer) {
    fail(ErrorCode::kInvalidArgument, "network layer '", layer, "': a layer of that name exists");
  }
  // The layer is checked on a node outside the graph, so a refused layer leaves no trace.
  ir::Node node;
  node.name = layer;
  node.op = op;
  node.attrs.set_owner(node.describe());
  for (const auto& [key, value] : attributes) {
    node.attrs.set(key, std::visit([](const auto& v) { return ir::AttrValue(v); }, value));
  }
  std::vector<std::optional<ir::TensorType>> types;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].empty()) {
      node.inputs.push_back(nullptr);
      types.emplace_back();
      continue;
    }
    ir::Value* v = g.find_value(inputs[i]);
    if (!v) {
      fail(ErrorCode::kInvalidArgument, node.describe(), ": input ", i, " '", inputs[i],
           "' is not a tensor of the network");
    }
    node.inputs.push_back(v);
    types.push_back(ir::TensorType{v->dtype, v->shape, v->constant ? &*v->constant : nullptr});
  }
  int outputs = num_outputs == 0 ? std::max(schema->min_outputs, 1) : num_outputs;
  if (outputs < schema->min_outputs || outputs > schema->max_outputs) {
    fail(ErrorCode::kInvalidArgument, node.describe(), ": ", outputs, " outputs, outside ",
         schema->min_outputs, "..", schema->max_outputs);
  }
  std::vector<std::string> names;
  for (int k = 0; k < outputs; ++k) {
    std::string out = outputs == 1 ? layer : layer + "_" + std::to_string(k);
    if (g.find_value(out)) {
      fail(ErrorCode::kInvalidArgument, node.describe(), ": its output name '", out,
           "' is taken by another tensor; name the layer differently");
    }
    names.push_back(out);
  }
  std::vector<ir::Value> placeholders(static_cast<size_t>(outputs));
  for (ir::Value& p : placeholders) node.outputs.push_back(&p);
  auto inferred = ir::infer_node(node, std::move(types), ErrorCode::kInvalidArgument);

  std::vector<ir::Value*> outs;
  for (size_t k = 0; k < names.size(); ++k) {
    DataType dt = inferred[k] ? inferred[k]->dtype : DataType::kFloat32;
    outs.push_back(g.add_value(names[k], dt, inferred[k] ? inferred[k]->shape : std::nullopt));
  }
  ir::Node* added = g.add_node(op, layer, node.inputs, std::move(outs));
  added->attrs = node.attrs;
  added->attrs.set_owner(added->describe());
  added->origins = {layer};
  return names;
}

void Network::mark_output(const std::string& name) {
  ir::Graph& g = graph_of(*impl_);
  ir::Value* v = g.find_value(name);
  if (!v) fail(ErrorCode::kInvalidArgument, "network output '", name, "' is not a tensor of it");
  std::unordered_set<const ir::Value*>& outputs = impl_->output_set;
  if (outputs.size() != g.outputs().size()) outputs = {g.outputs().begin(), g.outputs().end()};
  if (outputs.count(v)) {
    fail(ErrorCode::kInvalidArgument, "network output '", name, "' is already an output");
  }
  g.outputs().push_back(v);
  outputs.insert(v);
}

TensorDesc Network::describe(const std::string& name) const {
  const ir::Value* v = impl_->graph ? impl_->graph->find_value(name) : nullptr;
  if (!v) fail(ErrorCode::kInvalidArgument, "'", name, "' is not a tensor of the network");
  return describe_value(*v);
}

}  // namespace kiln
