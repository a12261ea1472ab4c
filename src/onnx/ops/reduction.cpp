// ONNX import of the reduction op family: older opsets' attributes become the inputs of the
// newest form (Reduce* axes, TopK k).
#include <string>

#include "onnx/import_context.hpp"
#include "onnx/ops/families.hpp"

namespace kiln::onnx {
namespace {

// ReduceSum took axes as an input from opset 13, the other reductions from opset 18.
void import_reduce(ImportContext& ctx, ir::Node& node) {
  int input_since = node.op == "ReduceSum" ? 13 : 18;
  if (ctx.opset < input_since) ctx.attribute_to_input(node, "axes", 1);
}

// TopK took k as an attribute before opset 10.
void import_topk(ImportContext& ctx, ir::Node& node) {
  if (ctx.opset >= 10 || !node.attrs.has("k")) return;
  int64_t k = node.attrs.get_int("k");
  node.attrs.erase("k");
  ImportContext::set_input(node, 1, ctx.constant_ints(node.name + "_k", {k}));
}

}  // namespace

void register_reduction_importers(ImporterTable& t) {
  for (const char* op :
       {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
    t.add(op, import_reduce);
  }
  t.add("TopK", import_topk);
}

}  // namespace kiln::onnx
