// ONNX import of the elementwise op family: rewrites older opsets into the newest semantics
// (Clip bounds as inputs, Cast's type code as a kiln type name, legacy broadcast attributes).
#include <cfloat>

#include "core/error.hpp"
#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::onnx {
namespace {

// Opsets before 6 carried an optimisation hint `consumed_inputs` that means nothing to kiln.
void drop_consumed_inputs(ir::Node& node) {
  node.attrs.erase("consumed_inputs");
}

// Opsets before 7 broadcast binary ops only with broadcast=1, aligning B at `axis`. Without an
// axis that is numpy's suffix alignment, which opset 7 adopted; with one, B would need a reshape
// that depends on A's rank, which is unknown at import.
void import_binary(ImportContext& ctx, ir::Node& node) {
  drop_consumed_inputs(node);
  if (ctx.opset >= 7) return;
  if (node.attrs.has("axis") && node.attrs.get_int("broadcast", 0) != 0) {
    fail(ErrorCode::kUnsupported, node.describe(), ": legacy (opset ", ctx.opset,
         ") broadcasting along axis ", node.attrs.get_int("axis"),
         " is not supported; convert the model to opset 7 or newer");
  }
  node.attrs.erase("broadcast");
  node.attrs.erase("axis");
}

void import_unary(ImportContext& ctx, ir::Node& node) {
  drop_consumed_inputs(node);
}

// Clip before opset 11 took min/max as float attributes; since then they are optional inputs of
// X's type. The attribute values become float32 constants cast to X's type by CastLike (the type
// of X is not known during import), and an absent bound stays absent: no bound.
void import_clip(ImportContext& ctx, ir::Node& node) {
  drop_consumed_inputs(node);
  if (ctx.opset >= 11) return;
  ir::Value* x = node.input(0);
  if (!x) return;  // inference reports the missing input
  size_t slot = 1;
  for (const char* attr : {"min", "max"}) {
    if (node.attrs.has(attr)) {
      float bound = node.attrs.get_float(attr);
      node.attrs.erase(attr);
      ir::Value* f32 = ctx.constant(
          node.name + "_" + attr, Tensor::from_vector(DataType::kFloat32, {}, std::vector{bound}));
      ir::Value* cast = ctx.graph.add_value(ctx.graph.unique_value_name(f32->name + "_cast"));
      ir::Node* like =
          ctx.graph.add_node("CastLike", ctx.graph.unique_node_name(cast->name), {f32, x}, {cast});
      like->origins = node.origins;
      ImportContext::set_input(node, slot, cast);
    }
    ++slot;
  }
}

// Cast's `to` is an ONNX TensorProto type code; kiln's IR names the type instead.
void import_cast(ImportContext& ctx, ir::Node& node) {
  if (!node.attrs.has("to")) {
    fail(ErrorCode::kInvalidModel, node.describe(), ": attribute 'to' is required");
  }
  const auto& to_attr = node.attrs.all().at("to");
  if (!std::holds_alternative<int64_t>(to_attr)) {
    fail(ErrorCode::kUnsupported, node.describe(),
         ": attribute 'to' must be an ONNX type code (opset 6 or newer)");
  }
  auto code = static_cast<int32_t>(std::get<int64_t>(to_attr));
  std::optional<DataType> to = from_onnx_dtype(code);
  if (!to) {
    fail(ErrorCode::kUnsupported, node.describe(), ": casting to ", onnx_dtype_name(code),
         " is not supported (kiln has no such type)");
  }
  node.attrs.set("to", std::string(to_string(*to)));
  // round_mode only concerns FLOAT8E8M0 targets, which kiln does not have.
  node.attrs.erase("round_mode");
}

void import_cast_like(ImportContext& ctx, ir::Node& node) {
  node.attrs.erase("round_mode");
}

}  // namespace

void register_elementwise_importers(ImporterTable& t) {
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less",
                         "Greater", "PRelu", "Sum", "Mean", "Max", "Min"}) {
    t.add(op, import_binary);
  }
  for (const char* op : {"Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Relu",
                         "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "Elu", "Selu"}) {
    t.add(op, import_unary);
  }
  t.add("Clip", import_clip);
  t.add("Cast", import_cast);
  t.add("CastLike", import_cast_like);
}

}  // namespace kiln::onnx
