// Inference for the indexing family's selecting ops: Unique and Compress (whose output lengths
// depend on the data, so the kernel allocates them) and ReverseSequence.
#include <optional>

#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void infer_unique(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype == DataType::kFloat8E4M3) ctx.fail("float8 input is not supported");
  bool has_axis = ctx.attrs().has("axis");
  std::optional<SymShape> y;
  Dim inverse;
  if (x.shape) {
    if (has_axis) {
      int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis"), x.rank());
      y = *x.shape;
      (*y)[static_cast<size_t>(axis)] = Dim();  // how many distinct slices: data-dependent
      inverse = (*x.shape)[static_cast<size_t>(axis)];
    } else {
      y = SymShape{Dim()};
      int64_t n = known_product(*x.shape, 0, x.shape->size());
      if (n >= 0) inverse = Dim(n);
    }
  }
  ctx.set_output(0, x.dtype, y);
  ctx.set_output(1, DataType::kInt64, SymShape{Dim()});
  ctx.set_output(2, DataType::kInt64, SymShape{inverse});
  ctx.set_output(3, DataType::kInt64, SymShape{Dim()});
}

void infer_compress(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& cond = ctx.input(1);
  if (cond.dtype != DataType::kBool)
    ctx.fail("condition must be bool, not ", to_string(cond.dtype));
  if (cond.rank() != -1 && cond.rank() != 1)
    ctx.fail("condition must be 1-D, got ", sym_shape_to_string(cond.shape));
  if (!ctx.attrs().has("axis")) {
    ctx.set_output(0, x.dtype, SymShape{Dim()});
    return;
  }
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis"), x.rank());
  SymShape out = *x.shape;
  out[static_cast<size_t>(axis)] = Dim();
  ctx.set_output(0, x.dtype, out);
}

void infer_reverse_sequence(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& lens = ctx.input(1);
  if (lens.dtype != DataType::kInt64) ctx.fail("sequence_lens must be int64");
  if (lens.rank() != -1 && lens.rank() != 1)
    ctx.fail("sequence_lens must be 1-D, got ", sym_shape_to_string(lens.shape));
  int64_t batch = ctx.attrs().get_int("batch_axis", 1), time = ctx.attrs().get_int("time_axis", 0);
  if ((batch != 0 && batch != 1) || (time != 0 && time != 1) || batch == time)
    ctx.fail("batch_axis and time_axis must be 0 and 1 in some order, got ", batch, " and ", time);
  if (x.shape) {
    if (x.shape->size() < 2)
      ctx.fail("input must have rank 2 or more, got ", sym_shape_to_string(x.shape));
    const Dim& b = (*x.shape)[static_cast<size_t>(batch)];
    if (lens.shape && (*lens.shape)[0].known() && b.known() && (*lens.shape)[0].value != b.value)
      ctx.fail("sequence_lens has ", (*lens.shape)[0].value, " values; the batch axis has ",
               b.value);
  }
  ctx.set_output(0, x.dtype, x.shape);
}

}  // namespace

void register_indexing_selection_ops(OpRegistry& r) {
  r.add({"Unique", 1, 1, 1, 4, infer_unique},
        {.flops = data_movement_flops(), .host_fallback = kDataDependentShape});
  r.add({"Compress", 2, 2, 1, 1, infer_compress},
        {.flops = data_movement_flops(), .host_fallback = kDataDependentShape});
  r.add({"ReverseSequence", 2, 2, 1, 1, infer_reverse_sequence},
        {.flops = data_movement_flops(),
         .host_fallback = "no CUDA kernel yet: rare in inference models"});
}

}  // namespace kiln::ir
