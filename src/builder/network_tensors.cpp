// What a Network says about its tensors (inputs, outputs, all of them, constants' data), giving its
// inputs new shapes, and copying it.
#include "core/error.hpp"
#include "ir/op_registry.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

const ir::Graph& graph_of(const Network::Impl& impl) {
  if (!impl.graph) fail(ErrorCode::kInternal, "network has no graph");
  return *impl.graph;
}

std::vector<TensorDesc> describe_all(const std::vector<ir::Value*>& values) {
  std::vector<TensorDesc> out;
  out.reserve(values.size());
  for (const ir::Value* v : values) out.push_back(describe_value(*v));
  return out;
}

}  // namespace

std::vector<TensorDesc> Network::inputs() const {
  return describe_all(graph_of(*impl_).inputs());
}

std::vector<TensorDesc> Network::outputs() const {
  return describe_all(graph_of(*impl_).outputs());
}

std::vector<TensorDesc> Network::tensors() const {
  std::vector<TensorDesc> out;
  for (const auto& v : graph_of(*impl_).values()) out.push_back(describe_value(*v));
  return out;
}

std::optional<Tensor> Network::constant(const std::string& name) const {
  const ir::Value* v = graph_of(*impl_).find_value(name);
  if (!v || !v->constant) return std::nullopt;
  return *v->constant;
}

void Network::set_input_shapes(const std::map<std::string, Shape>& shapes) {
  const ir::Graph& g = graph_of(*impl_);
  std::string given;
  for (const auto& [name, dims] : shapes) {
    const ir::Value* v = g.find_value(name);
    if (!v || !g.is_graph_input(v)) {
      fail(ErrorCode::kInvalidArgument, "network input shape for '", name,
           "': the network has no input of that name");
    }
    for (int64_t d : dims) {
      if (d < -1) {
        fail(ErrorCode::kInvalidArgument, "network input '", name, "' cannot have dimension ", d,
             " (use -1 for one fixed at run time)");
      }
    }
    given += cat(given.empty() ? "" : ", ", name, shape_to_string(dims));
  }
  // Inference runs on a copy, so shapes a layer rejects leave the network as it was.
  std::unique_ptr<ir::Graph> shaped = g.clone();
  for (ir::Value* v : shaped->inputs()) {
    auto it = shapes.find(v->name);
    if (it == shapes.end()) continue;
    ir::SymShape shape;
    for (int64_t d : it->second) shape.push_back(d == -1 ? ir::Dim() : ir::Dim(d));
    v->shape = std::move(shape);
  }
  try {
    ir::infer_graph(*shaped);
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidArgument, "network input shapes ", given, " do not fit: ", e.what());
  }
  impl_->graph = std::move(shaped);
  impl_->output_set.clear();  // it points into the old graph
}

Network Network::clone() const {
  auto copy = std::make_unique<Impl>();
  copy->graph = graph_of(*impl_).clone();
  return Network(std::move(copy));
}

}  // namespace kiln
