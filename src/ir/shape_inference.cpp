// Broadcasting and axis handling for inference.
#include "ir/shape_inference.hpp"

#include <algorithm>

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
    if (!s[i].known()) return -1;
    p *= s[i].value;
  }
  return p;
}

}  // namespace kiln::ir
