// Inference for Softmax, LogSoftmax and Hardmax: the output has the input's shape. Models older
// than opset 13 reach here with coerce_2d=1 (set by the importer): the op then runs over all
// axes from `axis` on, as if the input were flattened to 2-D there.
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void infer_softmax_like(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (!is_floating(x.dtype) || x.dtype == DataType::kFloat8E4M3)
    ctx.fail("dtype ", to_string(x.dtype), " is not supported; ", ctx.node().op,
             " takes float32, float64, float16 or bfloat16");
  if (x.shape) {
    auto rank = static_cast<int64_t>(x.shape->size());
    bool coerce = ctx.attrs().get_int("coerce_2d", 0) != 0;
    // The 2-D coercion allows axis == rank (an empty trailing group); ONNX's old ops did too.
    normalize_axis(ctx, ctx.attrs().get_int("axis", -1), rank, coerce);
  }
  ctx.set_output(0, x.dtype, x.shape);
}

}  // namespace

void register_softmax_ops(OpRegistry& r) {
  // Every backend computes Softmax and LogSoftmax in FP32 (or wider) inside the kernel and only
  // reads and writes 16-bit values, so they follow their neighbours with no Cast layers.
  r.add({"Softmax", 1, 1, 1, 1, infer_softmax_like}, {.flops = flops_per_larger_element(3)});
  r.add({"LogSoftmax", 1, 1, 1, 1, infer_softmax_like}, {.flops = flops_per_larger_element(4)});
  r.add({"Hardmax", 1, 1, 1, 1, infer_softmax_like}, {.flops = flops_per_larger_element(1)});
}

}  // namespace kiln::ir
