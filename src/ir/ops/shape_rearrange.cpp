// Rearrange: attribute checks and inference (rearrange.hpp).
#include "ir/ops/rearrange.hpp"

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

void infer_rearrange(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  int64_t elements = -1;
  if (x.shape) {
    if (std::optional<Shape> s = to_concrete(*x.shape)) elements = shape_numel(*s);
  }
  RearrangeSpec spec = read_rearrange_spec(ctx.node(), elements, x.dtype,
                                           [&](const std::string& m) { ctx.fail(m); });
  ctx.set_output(0, spec.to, spec.shape);
}

}  // namespace

bool is_rearranged_type(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16;
}

RearrangeSpec read_rearrange_spec(const Node& node, int64_t input_elements, DataType input_dtype,
                                  const std::function<void(const std::string&)>& fail) {
  RearrangeSpec s;
  const Attributes& a = node.attrs;
  s.sizes = a.get_ints("sizes", {});
  s.strides = a.get_ints("strides", {});
  std::vector<int64_t> shape = a.get_ints("shape", {});
  s.pad = a.get_int("pad", 0);
  std::optional<DataType> to = parse_data_type(a.get_string("to", ""));
  if (!to || !is_rearranged_type(*to) || !is_rearranged_type(input_dtype)) {
    fail(cat("converts ", to_string(input_dtype), " to '", a.get_string("to", ""),
             "': only float32, float16 and bfloat16 are rearranged"));
  }
  s.to = *to;
  if (s.sizes.empty() || s.sizes.size() != s.strides.size() || s.sizes.size() > 8) {
    fail(cat("needs 1 to 8 sizes with one stride each, got ", s.sizes.size(), " sizes and ",
             s.strides.size(), " strides"));
  }
  if (shape.empty()) fail("needs the output shape");
  for (int64_t d : shape) {
    if (d < 0) fail(cat("output dim ", d, " is negative"));
  }
  s.shape = Shape(shape.begin(), shape.end());
  const int64_t row = s.shape.back() - s.pad;
  if (s.pad < 0 || row < 0) fail(cat("pad ", s.pad, " does not fit rows of ", s.shape.back()));
  int64_t valid = 1, last = 0;  // the valid elements, and the furthest element read
  for (size_t i = 0; i < s.sizes.size(); ++i) {
    if (s.sizes[i] < 1 || s.strides[i] < 0) {
      fail(cat("virtual dim ", i, " has size ", s.sizes[i], " and stride ", s.strides[i]));
    }
    if (valid > (int64_t{1} << 40) / s.sizes[i]) fail("covers too many elements");
    valid *= s.sizes[i];
    int64_t step = 0;
    if (__builtin_mul_overflow(s.sizes[i] - 1, s.strides[i], &step) ||
        __builtin_add_overflow(last, step, &last)) {
      fail(cat("virtual dim ", i, " with stride ", s.strides[i], " reads past 2^63 elements"));
    }
  }
  // Each output row holds `row` valid elements and `pad` padding; the sizes must cover exactly
  // the valid ones (with no rows, any sizes do). -1 or an overflow: no shape has that many.
  int64_t rows = known_product(to_sym_shape(s.shape), 0, s.shape.size() - 1), wanted = 0;
  if (s.shape.back() != 0 &&
      (rows < 0 || __builtin_mul_overflow(rows, row, &wanted) || valid != wanted)) {
    fail(cat("sizes cover ", valid, " elements, but output shape ", shape_to_string(s.shape),
             " with pad ", s.pad, " has ",
             rows < 0 ? std::string("too many") : cat(rows, " x ", row), " outside its padding"));
  }
  if (input_elements >= 0 && last >= input_elements) {
    fail(cat("reads element ", last, " of an input of ", input_elements));
  }
  return s;
}

void register_shape_rearrange_ops(OpRegistry& r) {
  r.add({"Rearrange", 1, 1, 1, 1, infer_rearrange}, {.flops = data_movement_flops()});
}

}  // namespace kiln::ir
