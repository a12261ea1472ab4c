// Op table lookup and graph-wide inference.
#include "ir/op_registry.hpp"

#include <unordered_map>

#include "core/float_types.hpp"
#include "ir/family_registration.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

template <typename T>
void append_as(const Tensor& t, std::vector<T>& out) {
  auto n = static_cast<size_t>(t.numel());
  out.reserve(n);
  auto read = [&](auto tag) {
    using E = decltype(tag);
    const E* p = t.data<E>();
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<T>(static_cast<double>(p[i])));
  };
  auto read_float = [&](auto tag) {
    using E = decltype(tag);
    const E* p = t.data<E>();
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<T>(static_cast<float>(p[i])));
  };
  switch (t.dtype()) {
    case DataType::kFloat32:
      read(float{});
      break;
    case DataType::kFloat64:
      read(double{});
      break;
    case DataType::kFloat16:
      read_float(Half{});
      break;
    case DataType::kBFloat16:
      read_float(BFloat16{});
      break;
    case DataType::kFloat8E4M3:
      read_float(Float8E4M3{});
      break;
    case DataType::kInt8:
      read(int8_t{});
      break;
    case DataType::kUInt8:
      read(uint8_t{});
      break;
    case DataType::kInt16:
      read(int16_t{});
      break;
    case DataType::kUInt16:
      read(uint16_t{});
      break;
    case DataType::kInt32:
      read(int32_t{});
      break;
    case DataType::kUInt32:
      read(uint32_t{});
      break;
    case DataType::kInt64: {
      const int64_t* p = t.data<int64_t>();
      for (size_t i = 0; i < n; ++i) out.push_back(static_cast<T>(p[i]));
      break;
    }
    case DataType::kUInt64:
      read(uint64_t{});
      break;
    case DataType::kBool:
      read(uint8_t{});
      break;
  }
}

// Every registration function of ir/ops/families.hpp, with the family whose ops it adds.
constexpr FamilyRegistration<OpRegistry> kOpFamilyRegistrations[] = {
    {OpFamily::kElementwise, register_elementwise_ops},
    {OpFamily::kElementwise, register_elementwise_pointwise_ops},
    {OpFamily::kConv, register_conv_ops},
    {OpFamily::kMatmul, register_matmul_ops},
    {OpFamily::kPool, register_pool_ops},
    {OpFamily::kNormalization, register_normalization_ops},
    {OpFamily::kSoftmax, register_softmax_ops},
    {OpFamily::kReduction, register_reduction_ops},
    {OpFamily::kAttention, register_attention_ops},
    {OpFamily::kAttention, register_attention_scaled_dot_product_ops},
    {OpFamily::kShape, register_shape_ops},
    {OpFamily::kShape, register_shape_slice_pad_ops},
    {OpFamily::kShape, register_shape_rearrange_ops},
    {OpFamily::kIndexing, register_indexing_ops},
    {OpFamily::kIndexing, register_indexing_selection_ops},
    {OpFamily::kImage, register_image_ops},
    {OpFamily::kImage, register_image_resize_ops},
    {OpFamily::kGenerators, register_generators_ops},
    {OpFamily::kQuantization, register_quantization_ops},
    {OpFamily::kControlFlow, register_control_flow_ops},
};

}  // namespace

InferenceContext::InferenceContext(const Node& node, std::vector<std::optional<TensorType>> inputs,
                                   ErrorCode error_code)
    : node_(node),
      inputs_(std::move(inputs)),
      outputs_(node.outputs.size()),
      error_code_(error_code) {}

const TensorType& InferenceContext::input(size_t i) const {
  if (!has_input(i)) fail("input ", i, " is required but missing");
  return *inputs_[i];
}

std::optional<std::vector<int64_t>> InferenceContext::input_ints(size_t i) const {
  if (!has_input(i) || !inputs_[i]->value) return std::nullopt;
  const Tensor& t = *inputs_[i]->value;
  if (is_floating(t.dtype()))
    fail("input ", i, " must be an integer tensor, not ", to_string(t.dtype()));
  std::vector<int64_t> out;
  append_as(t, out);
  return out;
}

std::optional<std::vector<double>> InferenceContext::input_doubles(size_t i) const {
  if (!has_input(i) || !inputs_[i]->value) return std::nullopt;
  std::vector<double> out;
  append_as(*inputs_[i]->value, out);
  return out;
}

void InferenceContext::set_output(size_t i, DataType dtype, std::optional<SymShape> shape) {
  if (i >= outputs_.size()) return;  // optional output the model does not use
  if (shape) {
    for (const Dim& d : *shape) {
      if (d.value < -1) fail("output ", i, " would have negative dimension ", d.value);
    }
    // Shapes computed from data (Expand's target, Pad's pads, Range's bounds) can be anything:
    // refuse one no tensor can have here, naming the node, before anything is allocated.
    if (std::optional<std::string> problem = shape_size_problem(*shape, dtype)) {
      const Value* v = node_.output(i);
      fail("output ", i, v ? cat(" ('", v->name, "')") : std::string(), " would have ", *problem);
    }
  }
  outputs_[i] = TensorType{dtype, std::move(shape), nullptr};
}

const OpRegistry& OpRegistry::instance() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    for (const auto& family : kOpFamilyRegistrations) {
      r.registering_ = family.family;
      family.add(r);
    }
    return r;
  }();
  return registry;
}

void OpRegistry::add(OpSchema schema) {
  schema.family = registering_;
  std::string name = schema.name;
  schemas_[name] = std::move(schema);
}

void OpRegistry::add(OpSchema schema, const OpTraits& traits) {
  schema.traits = traits;
  add(std::move(schema));
}

const OpSchema* OpRegistry::find(std::string_view op) const {
  auto it = schemas_.find(op);
  return it == schemas_.end() ? nullptr : &it->second;
}

const OpTraits& op_traits(std::string_view op) {
  static const OpTraits kUnknownOp;
  const OpSchema* schema = OpRegistry::instance().find(op);
  return schema ? schema->traits : kUnknownOp;
}

const OpTraits& op_traits(const Node& node) {
  static const OpTraits kOtherDomain;
  return node.domain.empty() ? op_traits(node.op) : kOtherDomain;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : schemas_) out.push_back(k);
  return out;
}

std::vector<std::optional<TensorType>> infer_node(const Node& node,
                                                  std::vector<std::optional<TensorType>> inputs,
                                                  ErrorCode error_code) {
  const OpSchema* schema = OpRegistry::instance().find(node.op);
  if (!schema)
    fail(ErrorCode::kUnsupported, node.describe(), ": kiln does not implement op '", node.op, "'");
  auto n_in = static_cast<int>(node.inputs.size());
  auto n_out = static_cast<int>(node.outputs.size());
  if (n_in < schema->min_inputs || n_in > schema->max_inputs) {
    fail(error_code, node.describe(), " has ", n_in, " inputs; ", node.op, " takes ",
         schema->min_inputs,
         schema->max_inputs == OpSchema::kVariadic ? cat(" or more")
                                                   : cat(" to ", schema->max_inputs));
  }
  if (n_out < schema->min_outputs || n_out > schema->max_outputs) {
    fail(error_code, node.describe(), " has ", n_out, " outputs; ", node.op, " gives ",
         schema->min_outputs, " to ", schema->max_outputs);
  }
  for (int i = 0; i < schema->min_inputs && i < n_in; ++i) {
    if (!inputs[static_cast<size_t>(i)]) {
      fail(error_code, node.describe(), ": required input ", i, " is missing");
    }
  }
  InferenceContext ctx(node, std::move(inputs), error_code);
  schema->infer(ctx);
  return ctx.outputs();
}

void infer_graph(Graph& graph) {
  for (Node* node : graph.node_list()) {
    const OpSchema* schema = OpRegistry::instance().find(node->op);
    if (schema && schema->bind_subgraphs) schema->bind_subgraphs(*node);
    std::vector<std::optional<TensorType>> ins;
    for (Value* v : node->inputs) {
      if (!v) {
        ins.emplace_back();
        continue;
      }
      ins.push_back(TensorType{v->dtype, v->shape, v->constant ? &*v->constant : nullptr});
    }
    auto outs = infer_node(*node, std::move(ins));
    for (size_t i = 0; i < node->outputs.size(); ++i) {
      Value* v = node->outputs[i];
      if (!v || !outs[i]) continue;
      v->dtype = outs[i]->dtype;
      // Keep what the model declared (value_info) where inference knows less.
      std::optional<SymShape> inferred = outs[i]->shape;
      if (inferred && v->shape && v->shape->size() == inferred->size()) {
        for (size_t d = 0; d < inferred->size(); ++d) {
          if (!(*inferred)[d].known() && (*inferred)[d].symbol.empty())
            (*inferred)[d] = (*v->shape)[d];
        }
        // Each part was checked alone; together they may describe no possible tensor.
        if (std::optional<std::string> problem = shape_size_problem(*inferred, v->dtype)) {
          fail(ErrorCode::kInvalidModel, node->describe(), ": output '", v->name, "' would have ",
               *problem, " (its declared shape filled in what inference left open)");
        }
      }
      if (inferred || !v->shape) v->shape = std::move(inferred);
    }
  }
}

}  // namespace kiln::ir
