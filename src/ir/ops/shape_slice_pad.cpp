// Inference for the shape family's Slice and Pad: the output is a window of the input, or the input
// inside a border, with starts, ends, axes, steps and pads read from constant inputs.
#include <string>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/ops/slice_range.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void infer_slice(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (!in.shape) {
    ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  int64_t r = in.rank();
  auto starts = input_int_list(ctx, 1, "starts");
  auto ends = input_int_list(ctx, 2, "ends");
  auto axes = input_int_list(ctx, 3, "axes");
  auto steps = input_int_list(ctx, 4, "steps");
  bool axes_unknown = ctx.has_input(3) && !axes;
  bool steps_unknown = ctx.has_input(4) && !steps;
  SymShape out = *in.shape;
  if (!starts || !ends || axes_unknown || steps_unknown) {
    // Which axes are sliced is known only from axes, or from all of them when it is absent.
    if (axes_unknown || !axes) {
      out.assign(out.size(), Dim());
    } else {
      for (int64_t a : *axes) out[static_cast<size_t>(normalize_axis(ctx, a, r))] = Dim();
    }
    ctx.set_output(0, in.dtype, out);
    return;
  }
  size_t n = starts->size();
  if (ends->size() != n) ctx.fail("starts has ", n, " entries but ends has ", ends->size());
  if (!axes) {
    if (static_cast<int64_t>(n) > r) ctx.fail("starts has ", n, " entries for rank ", r);
    axes.emplace();
    for (size_t i = 0; i < n; ++i) axes->push_back(static_cast<int64_t>(i));
  }
  if (!steps) steps = std::vector<int64_t>(n, 1);
  if (axes->size() != n || steps->size() != n)
    ctx.fail("starts, ends, axes and steps must have the same length");
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    auto a = static_cast<size_t>(normalize_axis(ctx, (*axes)[i], r));
    if (seen[a]) ctx.fail("axes has a repeated axis ", (*axes)[i]);
    seen[a] = true;
    if ((*steps)[i] == 0) ctx.fail("steps cannot be 0");
    if (out[a].known())
      out[a] = Dim(slice_range(out[a].value, (*starts)[i], (*ends)[i], (*steps)[i]).count);
    else
      out[a] = Dim();
  }
  ctx.set_output(0, in.dtype, out);
}

constexpr int64_t kMaxPad = int64_t{1} << 62;

void infer_pad(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  std::string mode = ctx.attrs().get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    ctx.fail("mode must be constant, reflect, edge or wrap, got '", mode, "'");
  if (!in.shape) {
    ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  int64_t r = in.rank();
  auto pads = input_int_list(ctx, 1, "pads");
  auto axes = input_int_list(ctx, 3, "axes");
  if (!pads || (ctx.has_input(3) && !axes)) {
    ctx.set_output(0, in.dtype, SymShape(in.shape->size(), Dim()));
    return;
  }
  if (!axes) {
    axes.emplace();
    for (int64_t i = 0; i < r; ++i) axes->push_back(i);
  }
  size_t n = axes->size();
  if (pads->size() != 2 * n)
    ctx.fail("pads has ", pads->size(), " entries; expected ", 2 * n, " (two per axis)");
  SymShape out = *in.shape;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    auto a = static_cast<size_t>(normalize_axis(ctx, (*axes)[i], r));
    if (seen[a]) ctx.fail("axes has a repeated axis ", (*axes)[i]);
    seen[a] = true;
    int64_t before = (*pads)[i], after = (*pads)[i + n];
    // Past 2^62 a pad either makes the output too large or is cancelled by an equally absurd pad
    // on the other side, and the kernel's coordinate arithmetic (index - before) would overflow.
    for (int64_t p : {before, after}) {
      if (p < -kMaxPad || p > kMaxPad) ctx.fail("pads value ", p, " is out of range");
    }
    if (!out[a].known()) {
      if (before != 0 || after != 0) out[a] = Dim();
      continue;
    }
    int64_t d = checked_add(ctx, checked_add(ctx, out[a].value, before), after);
    if (d < 0)
      ctx.fail("pads ", before, " and ", after, " shrink axis ", a, " of size ", out[a].value,
               " below zero");
    out[a] = Dim(d);
  }
  ctx.set_output(0, in.dtype, out);
}

}  // namespace

void register_shape_slice_pad_ops(OpRegistry& r) {
  constexpr OpTraits kMoves{.flops = data_movement_flops()};
  r.add({"Slice", 3, 5, 1, 1, infer_slice}, kMoves);
  r.add({"Pad", 2, 4, 1, 1, infer_pad}, kMoves);
}

}  // namespace kiln::ir
