// Broadcasting and axis handling for inference.
#include "ir/shape_inference.hpp"

#include <algorithm>

#include "core/checked_size.hpp"

namespace kiln::ir {

std::optional<SymShape> broadcast_shapes(const InferenceContext& ctx,
                                         const std::vector<std::optional<SymShape>>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) {
    if (!s) return std::nullopt;
    rank = std::max(rank, s->size());
  }
  SymShape out(rank, Dim(1));
  for (size_t k = 0; k < rank; ++k) {
    Dim result(1);
    bool have_unknown = false;
    Dim unknown;
    for (const auto& s : shapes) {
      if (s->size() + k < rank) continue;
      const Dim& d = (*s)[k - (rank - s->size())];
      if (!d.known()) {
        // An unknown dim broadcasts to itself unless another input fixes it above 1.
        if (!have_unknown)
          unknown = d;
        else if (unknown.symbol != d.symbol)
          unknown.symbol.clear();
        have_unknown = true;
        continue;
      }
      if (d.value == 1) continue;
      if (result.value != 1 && result.value != d.value) {
        std::string all;
        for (const auto& t : shapes) all += (all.empty() ? "" : " and ") + sym_shape_to_string(t);
        ctx.fail("shapes ", all, " cannot be broadcast together");
      }
      result = d;
    }
    out[k] = (result.value == 1 && have_unknown) ? unknown : result;
  }
  return out;
}

std::optional<SymShape> broadcast_inputs(const InferenceContext& ctx) {
  std::vector<std::optional<SymShape>> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (ctx.has_input(i)) shapes.push_back(ctx.input(i).shape);
  }
  return broadcast_shapes(ctx, shapes);
}

int64_t normalize_axis(const InferenceContext& ctx, int64_t axis, int64_t rank, bool allow_end) {
  int64_t limit = allow_end ? rank + 1 : rank;
  int64_t a = axis < 0 ? axis + limit : axis;
  if (a < 0 || a >= limit) {
    ctx.fail("axis ", axis, " is out of range for a tensor of rank ", rank);
  }
  return a;
}

void infer_same_as_first(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  ctx.set_output(0, in.dtype, in.shape);
}

int64_t known_product(const SymShape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) {
    if (!s[i].known() || __builtin_mul_overflow(p, s[i].value, &p)) return -1;
  }
  return p;
}

namespace {

// `overflows` wraps one of the __builtin_*_overflow functions.
template <typename Overflows>
int64_t checked_op(const InferenceContext& ctx, int64_t a, const char* op, int64_t b,
                   Overflows overflows) {
  int64_t r = 0;
  if (overflows(a, b, &r)) ctx.fail("shape arithmetic overflows (", a, op, b, ")");
  return r;
}

}  // namespace

int64_t checked_mul(const InferenceContext& ctx, int64_t a, int64_t b) {
  return checked_op(ctx, a, " * ", b, [](int64_t x, int64_t y, int64_t* r) {
    return __builtin_mul_overflow(x, y, r);
  });
}

int64_t checked_add(const InferenceContext& ctx, int64_t a, int64_t b) {
  return checked_op(ctx, a, " + ", b, [](int64_t x, int64_t y, int64_t* r) {
    return __builtin_add_overflow(x, y, r);
  });
}

int64_t checked_sub(const InferenceContext& ctx, int64_t a, int64_t b) {
  return checked_op(ctx, a, " - ", b, [](int64_t x, int64_t y, int64_t* r) {
    return __builtin_sub_overflow(x, y, r);
  });
}

int64_t checked_rank(const InferenceContext& ctx, int64_t rank, const char* what) {
  if (rank > kMaxRank) {
    ctx.fail(what, " has ", rank, " entries; a tensor has at most ", kMaxRank, " dimensions");
  }
  return rank;
}

std::optional<std::string> shape_size_problem(const SymShape& s, DataType dtype) {
  int64_t nonzero = 1;
  bool all_known = true, empty = false;
  for (const Dim& d : s) {
    if (!d.known()) {
      all_known = false;
    } else if (d.value == 0) {
      empty = true;
    } else if (std::optional<int64_t> next = kiln::checked_mul(nonzero, d.value)) {
      nonzero = *next;
    } else {
      return cat("shape ", sym_shape_to_string(s), ", which has more elements than fit in 64 bits");
    }
  }
  if (!all_known || empty) return std::nullopt;
  std::optional<int64_t> bytes =
      kiln::checked_mul(nonzero, static_cast<int64_t>(element_size(dtype)));
  if (!bytes || static_cast<uint64_t>(*bytes) > tensor_byte_limit()) {
    return cat("shape ", sym_shape_to_string(s), " of ", to_string(dtype), ", ", nonzero,
               " elements, more than the tensor size limit of ", tensor_byte_limit(), " bytes");
  }
  return std::nullopt;
}

std::optional<std::vector<int64_t>> input_int_list(const InferenceContext& ctx, size_t i,
                                                   const char* what, bool allow_scalar) {
  if (!ctx.has_input(i)) return std::nullopt;
  const TensorType& t = ctx.input(i);
  if (t.shape && t.shape->size() != 1 && !(allow_scalar && t.shape->empty())) {
    ctx.fail(what, " (input ", i, ") must be a 1-D tensor, got shape ",
             sym_shape_to_string(t.shape));
  }
  return ctx.input_ints(i);
}

int64_t known_length(const InferenceContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return -1;
  const auto& s = ctx.input(i).shape;
  if (!s || s->size() != 1 || !(*s)[0].known()) return -1;
  // Every caller makes an output of this rank.
  return checked_rank(ctx, (*s)[0].value, cat("input ", i).c_str());
}

void require_float_input(const InferenceContext& ctx, size_t i) {
  DataType t = ctx.input(i).dtype;
  if (!is_floating(t) || t == DataType::kFloat8E4M3)
    ctx.fail("input ", i, " has dtype ", to_string(t), "; ", ctx.node().op,
             " takes float32, float64, float16 or bfloat16");
}

}  // namespace kiln::ir
