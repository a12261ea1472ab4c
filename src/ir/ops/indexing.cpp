// Inference for the indexing op family: Gather, GatherElements, GatherND, ScatterND,
// ScatterElements (and the deprecated Scatter), NonZero and OneHot (Unique, Compress and
// ReverseSequence: indexing_selection.cpp).
#include <string>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void require_index_dtype(const InferenceContext& ctx, size_t i) {
  DataType t = ctx.input(i).dtype;
  if (t != DataType::kInt32 && t != DataType::kInt64)
    ctx.fail("indices (input ", i, ") must be int32 or int64, got ", to_string(t));
}

void infer_gather(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  const TensorType& idx = ctx.input(1);
  require_index_dtype(ctx, 1);
  if (!data.shape || !idx.shape) {
    ctx.set_output(0, data.dtype, std::nullopt);
    return;
  }
  if (data.rank() == 0) ctx.fail("data must have rank >= 1");
  auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attrs().get_int("axis", 0), data.rank()));
  SymShape out(data.shape->begin(), data.shape->begin() + static_cast<int64_t>(axis));
  out.insert(out.end(), idx.shape->begin(), idx.shape->end());
  out.insert(out.end(), data.shape->begin() + static_cast<int64_t>(axis) + 1, data.shape->end());
  ctx.set_output(0, data.dtype, out);
}

// GatherElements and ScatterElements: data and indices of one rank, the axis in range.
void check_elements_ranks(const InferenceContext& ctx, const TensorType& data,
                          const TensorType& idx) {
  if (!data.shape || !idx.shape) return;
  if (data.rank() != idx.rank())
    ctx.fail("data (rank ", data.rank(), ") and indices (rank ", idx.rank(),
             ") must have the same rank");
  if (data.rank() == 0) ctx.fail("data must have rank >= 1");
  normalize_axis(ctx, ctx.attrs().get_int("axis", 0), data.rank());
}

void infer_gather_elements(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  const TensorType& idx = ctx.input(1);
  require_index_dtype(ctx, 1);
  check_elements_ranks(ctx, data, idx);
  ctx.set_output(0, data.dtype, idx.shape);
}

void check_reduction(const InferenceContext& ctx) {
  std::string red = ctx.attrs().get_string("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    ctx.fail("reduction must be none, add, mul, max or min, got '", red, "'");
}

void infer_scatter_elements(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  const TensorType& idx = ctx.input(1);
  const TensorType& upd = ctx.input(2);
  require_index_dtype(ctx, 1);
  check_reduction(ctx);
  check_elements_ranks(ctx, data, idx);
  if (upd.dtype != data.dtype)
    ctx.fail("updates must be ", to_string(data.dtype), " like data, got ", to_string(upd.dtype));
  if (idx.shape && upd.shape && to_concrete(*idx.shape) && to_concrete(*upd.shape) &&
      *to_concrete(*idx.shape) != *to_concrete(*upd.shape))
    ctx.fail("indices ", sym_shape_to_string(idx.shape), " and updates ",
             sym_shape_to_string(upd.shape), " must have the same shape");
  ctx.set_output(0, data.dtype, data.shape);
}

void infer_gather_nd(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  const TensorType& idx = ctx.input(1);
  if (idx.dtype != DataType::kInt64) ctx.fail("indices must be int64, got ", to_string(idx.dtype));
  int64_t b = ctx.attrs().get_int("batch_dims", 0);
  if (idx.shape && idx.shape->empty()) ctx.fail("indices must have rank >= 1");
  if (!data.shape || !idx.shape || idx.shape->empty() || !idx.shape->back().known()) {
    ctx.set_output(0, data.dtype, std::nullopt);
    return;
  }
  int64_t r = data.rank(), q = idx.rank(), k = idx.shape->back().value;
  if (b < 0 || b >= std::min(r, q))
    ctx.fail("batch_dims ", b, " must be in [0, min(data rank ", r, ", indices rank ", q, "))");
  if (k < 1 || k > r - b)
    ctx.fail("the last dimension of indices (", k, ") must be in [1, ", r - b, "]");
  SymShape out(idx.shape->begin(), idx.shape->end() - 1);
  for (int64_t i = 0; i < b; ++i) {
    auto u = static_cast<size_t>(i);
    out[u] = [&] {
      const Dim& x = (*data.shape)[u];
      const Dim& y = (*idx.shape)[u];
      if (x.known() && y.known() && x.value != y.value)
        ctx.fail("batch dimension ", i, " differs between data (", x.value, ") and indices (",
                 y.value, ")");
      return x.known() ? x : y;
    }();
  }
  out.insert(out.end(), data.shape->begin() + b + k, data.shape->end());
  ctx.set_output(0, data.dtype, out);
}

void infer_scatter_nd(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  const TensorType& idx = ctx.input(1);
  const TensorType& upd = ctx.input(2);
  if (idx.dtype != DataType::kInt64) ctx.fail("indices must be int64, got ", to_string(idx.dtype));
  if (upd.dtype != data.dtype)
    ctx.fail("updates must be ", to_string(data.dtype), " like data, got ", to_string(upd.dtype));
  check_reduction(ctx);
  if (idx.shape && idx.shape->empty()) ctx.fail("indices must have rank >= 1");
  if (data.shape && idx.shape && upd.shape && idx.shape->back().known()) {
    int64_t k = idx.shape->back().value, r = data.rank(), q = idx.rank();
    if (k < 1 || k > r) ctx.fail("the last dimension of indices (", k, ") must be in [1, ", r, "]");
    // updates must have shape indices.shape[:-1] + data.shape[k:].
    SymShape want(idx.shape->begin(), idx.shape->end() - 1);
    want.insert(want.end(), data.shape->begin() + k, data.shape->end());
    bool ok = static_cast<int64_t>(upd.shape->size()) == q - 1 + r - k;
    for (size_t i = 0; ok && i < want.size(); ++i) {
      const Dim& u = (*upd.shape)[i];
      ok = !u.known() || !want[i].known() || u.value == want[i].value;
    }
    if (!ok)
      ctx.fail("updates have shape ", sym_shape_to_string(upd.shape), ", expected ",
               sym_shape_to_string(want));
  }
  ctx.set_output(0, data.dtype, data.shape);
}

void infer_nonzero(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  // The count of non-zeros is data-dependent: the kernel allocates the output.
  ctx.set_output(0, DataType::kInt64,
                 in.shape ? std::optional(SymShape{Dim(in.rank()), Dim()}) : std::nullopt);
}

void infer_onehot(InferenceContext& ctx) {
  const TensorType& idx = ctx.input(0);
  const TensorType& values = ctx.input(2);
  if (values.shape && known_product(*values.shape, 0, values.shape->size()) >= 0 &&
      known_product(*values.shape, 0, values.shape->size()) != 2)
    ctx.fail("values must hold two elements [off, on], got shape ",
             sym_shape_to_string(values.shape));
  Dim depth;
  if (auto d = ctx.input_doubles(1)) {
    if (d->size() != 1) ctx.fail("depth must hold one value, got ", d->size());
    if (!((*d)[0] >= 1) || (*d)[0] > 9.0e18) ctx.fail("depth must be at least 1, got ", (*d)[0]);
    depth = Dim(static_cast<int64_t>((*d)[0]));
  }
  if (!idx.shape) {
    ctx.set_output(0, values.dtype, std::nullopt);
    return;
  }
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", -1), idx.rank() + 1);
  SymShape out = *idx.shape;
  out.insert(out.begin() + axis, depth);
  ctx.set_output(0, values.dtype, out);
}

}  // namespace

void register_indexing_ops(OpRegistry& r) {
  constexpr OpTraits kMoves{.flops = data_movement_flops()};
  r.add({"Gather", 2, 2, 1, 1, infer_gather}, kMoves);
  r.add({"GatherElements", 2, 2, 1, 1, infer_gather_elements}, kMoves);
  r.add({"GatherND", 2, 2, 1, 1, infer_gather_nd}, kMoves);
  r.add({"ScatterND", 3, 3, 1, 1, infer_scatter_nd}, kMoves);
  r.add({"ScatterElements", 3, 3, 1, 1, infer_scatter_elements}, kMoves);
  // Deprecated alias; the importer renames it to ScatterElements.
  r.add({"Scatter", 3, 3, 1, 1, infer_scatter_elements}, kMoves);
  r.add({"NonZero", 1, 1, 1, 1, infer_nonzero},
        {.flops = data_movement_flops(), .host_fallback = kDataDependentShape});
  r.add({"OneHot", 3, 3, 1, 1, infer_onehot},
        {.precision = {.cls = PrecisionClass::kKeepsTypes,
                       .reason = "its depth and values are read as numbers"},
         .flops = data_movement_flops(),
         .host_fallback = "no CUDA kernel yet: rare in inference graphs, and often folded "
                          "into a constant"});
}

}  // namespace kiln::ir
