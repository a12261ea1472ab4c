// Inference for the reduction op family: Reduce*, ArgMax/ArgMin, TopK and the running reductions
// CumSum and CumProd.
#include <algorithm>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

// Reductions that sum more elements than this keep FP32: a 16-bit result may overflow.
constexpr int64_t kLargeReduction = 1024;

void require_numeric(const InferenceContext& ctx, size_t i, bool allow_bool) {
  DataType t = ctx.input(i).dtype;
  if (t == DataType::kBool && !allow_bool)
    ctx.fail("input ", i, " has type bool, which ", ctx.node().op, " does not accept");
}

// The reduced axes of a Reduce* node, normalized and sorted; nullopt when the axes input is not
// known yet. Empty means "no axes given" (reduce all, or nothing with noop_with_empty_axes).
std::optional<std::vector<int64_t>> reduce_axes(const InferenceContext& ctx, int64_t rank) {
  std::vector<int64_t> raw;
  if (ctx.has_input(1)) {
    auto v = ctx.input_ints(1);
    if (!v) return std::nullopt;
    raw = *v;
  } else if (ctx.attrs().has("axes")) {
    raw = ctx.attrs().get_ints("axes");
  }
  std::vector<int64_t> axes;
  for (int64_t a : raw) axes.push_back(normalize_axis(ctx, a, rank));
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    ctx.fail("axes must not repeat an axis");
  return axes;
}

void infer_reduce(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  std::string op = ctx.node().op;
  require_numeric(ctx, 0, op == "ReduceMax" || op == "ReduceMin");
  if (ctx.has_input(1) && ctx.input(1).dtype != DataType::kInt64)
    ctx.fail("axes (input 1) must be int64, not ", to_string(ctx.input(1).dtype));
  bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  bool noop = ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  auto rank = static_cast<int64_t>(x.shape->size());
  auto axes = reduce_axes(ctx, rank);
  if (!axes) {
    // Axes come at run time: with keepdims the rank is still known.
    ctx.set_output(0, x.dtype,
                   keepdims ? std::optional<SymShape>(SymShape(x.shape->size())) : std::nullopt);
    return;
  }
  if (axes->empty()) {
    if (noop) {
      ctx.set_output(0, x.dtype, x.shape);
      return;
    }
    for (int64_t i = 0; i < rank; ++i) axes->push_back(i);
  }
  SymShape out;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = std::binary_search(axes->begin(), axes->end(), i);
    if (!reduced)
      out.push_back((*x.shape)[static_cast<size_t>(i)]);
    else if (keepdims)
      out.push_back(Dim(1));
  }
  ctx.set_output(0, x.dtype, out);
}

void infer_arg_reduce(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  require_numeric(ctx, 0, false);
  bool keepdims = ctx.attrs().get_int("keepdims", 1) != 0;
  if (!x.shape) {
    ctx.set_output(0, DataType::kInt64, std::nullopt);
    return;
  }
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", 0), x.rank());
  const Dim& d = (*x.shape)[static_cast<size_t>(axis)];
  if (d.known() && d.value == 0) ctx.fail("cannot take ", ctx.node().op, " over empty axis ", axis);
  SymShape out = *x.shape;
  if (keepdims)
    out[static_cast<size_t>(axis)] = Dim(1);
  else
    out.erase(out.begin() + axis);
  ctx.set_output(0, DataType::kInt64, out);
}

void infer_topk(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  require_numeric(ctx, 0, false);
  if (ctx.input(1).dtype != DataType::kInt64)
    ctx.fail("K (input 1) must be int64, not ", to_string(ctx.input(1).dtype));
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    ctx.set_output(1, DataType::kInt64, std::nullopt);
    return;
  }
  int64_t axis = normalize_axis(ctx, ctx.attrs().get_int("axis", -1), x.rank());
  SymShape out = *x.shape;
  Dim kdim;
  if (auto k = ctx.input_ints(1)) {
    if (k->size() != 1) ctx.fail("K (input 1) must hold exactly one value, got ", k->size());
    int64_t kv = (*k)[0];
    const Dim& d = out[static_cast<size_t>(axis)];
    if (kv < 0) ctx.fail("K must not be negative, got ", kv);
    if (d.known() && kv > d.value)
      ctx.fail("K = ", kv, " is larger than axis ", axis, " of size ", d.value);
    kdim = Dim(kv);
  }
  out[static_cast<size_t>(axis)] = kdim;
  ctx.set_output(0, x.dtype, out);
  ctx.set_output(1, DataType::kInt64, out);
}

void infer_cumsum(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  require_numeric(ctx, 0, false);
  DataType at = ctx.input(1).dtype;
  if (at != DataType::kInt32 && at != DataType::kInt64)
    ctx.fail("axis (input 1) must be int32 or int64, not ", to_string(at));
  if (auto axis = ctx.input_ints(1)) {
    if (axis->size() != 1) ctx.fail("axis (input 1) must hold one value, got ", axis->size());
    if (x.shape) normalize_axis(ctx, (*axis)[0], x.rank());
  }
  ctx.set_output(0, x.dtype, x.shape);
}

void infer_cumprod(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  DataType t = x.dtype;
  if (t == DataType::kBool || t == DataType::kFloat8E4M3 || t == DataType::kInt8 ||
      t == DataType::kUInt8 || t == DataType::kInt16 || t == DataType::kUInt16)
    ctx.fail("x has dtype ", to_string(t), "; CumProd takes 32/64-bit integers and floats");
  DataType at = ctx.input(1).dtype;
  if (at != DataType::kInt32 && at != DataType::kInt64)
    ctx.fail("axis (input 1) must be int32 or int64, not ", to_string(at));
  if (auto axis = ctx.input_ints(1)) {
    if (axis->size() != 1) ctx.fail("axis (input 1) must hold one value, got ", axis->size());
    if (x.shape) normalize_axis(ctx, (*axis)[0], x.rank());
  }
  ctx.set_output(0, x.dtype, x.shape);
}

// Number of elements each output of a reduction sums, or -1 when unknown.
int64_t reduced_extent(const Node& n) {
  const Value* x = n.input(0);
  if (!x || !x->shape) return -1;
  const SymShape& shape = *x->shape;
  std::vector<int64_t> axes;
  const Value* axes_value = n.input(1);
  if (axes_value && axes_value->constant) {
    const Tensor& t = *axes_value->constant;
    for (int64_t i = 0; i < t.numel(); ++i) {
      axes.push_back(t.dtype() == DataType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i]);
    }
  } else if (axes_value) {
    return -1;  // axes known only at run time
  } else if (n.attrs.has("axes")) {
    axes = n.attrs.get_ints("axes");
  }
  if (axes.empty()) {
    if (n.attrs.get_int("noop_with_empty_axes", 0)) return 1;
    for (size_t d = 0; d < shape.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  int64_t count = 1;
  auto rank = static_cast<int64_t>(shape.size());
  for (int64_t a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank || !shape[static_cast<size_t>(a)].known()) return -1;
    count *= shape[static_cast<size_t>(a)].value;
  }
  return count;
}

// A sum of up to kLargeReduction elements fits 16 bits; a longer or unknown one may overflow.
std::string long_sum_reason(const Node& n) {
  int64_t extent = reduced_extent(n);
  if (extent >= 0 && extent <= kLargeReduction) return "";
  return extent < 0 ? "it sums an unknown number of elements, which may overflow 16 bits"
                    : cat("it sums ", extent, " elements, which may overflow 16 bits");
}

void reduce(OpRegistry& r, const char* name, OpTraits traits) {
  r.add({name, 1, 2, 1, 1, infer_reduce}, traits);
}

}  // namespace

void register_reduction_ops(OpRegistry& r) {
  auto keep_fp32 = [](const char* reason) {
    return PrecisionTraits{.cls = PrecisionClass::kKeepFp32, .reason = reason};
  };
  constexpr const char* kSumsOfSquares = "sums of squares overflow 16 bits";
  reduce(r, "ReduceMean", {.flops = flops_per_larger_element(1)});
  reduce(r, "ReduceSum",
         {.precision = {.fp32_reason = long_sum_reason}, .flops = flops_per_larger_element(1)});
  reduce(r, "ReduceMax", {.flops = flops_per_larger_element(1)});
  reduce(r, "ReduceMin", {.flops = flops_per_larger_element(1)});
  reduce(
      r, "ReduceProd",
      {.precision = keep_fp32("products overflow 16 bits"), .flops = flops_per_larger_element(1)});
  reduce(r, "ReduceL1",
         {.precision = {.fp32_reason = long_sum_reason}, .flops = flops_per_larger_element(2)});
  reduce(r, "ReduceL2",
         {.precision = keep_fp32(kSumsOfSquares), .flops = flops_per_larger_element(2)});
  reduce(r, "ReduceLogSum",
         {.precision = keep_fp32("log-sums need FP32"), .flops = flops_per_larger_element(1)});
  reduce(r, "ReduceLogSumExp",
         {.precision = keep_fp32(kExponentialsOverflow), .flops = flops_per_larger_element(2)});
  reduce(r, "ReduceSumSquare",
         {.precision = keep_fp32(kSumsOfSquares), .flops = flops_per_larger_element(2)});
  r.add({"ArgMax", 1, 1, 1, 1, infer_arg_reduce}, {.flops = data_movement_flops()});
  r.add({"ArgMin", 1, 1, 1, 1, infer_arg_reduce}, {.flops = data_movement_flops()});
  r.add({"TopK", 2, 2, 2, 2, infer_topk}, {.flops = data_movement_flops()});
  r.add({"CumSum", 2, 2, 1, 1, infer_cumsum},
        {.precision = keep_fp32("running sums overflow 16 bits"),
         .flops = flops_per_larger_element(1)});
  r.add({"CumProd", 2, 2, 1, 1, infer_cumprod},
        {.precision = {.cls = PrecisionClass::kKeepFp32,
                       .reason = "running products overflow 16 bits"},
         .host_fallback = "no CUDA kernel yet: rare in inference models"});
}

}  // namespace kiln::ir
