// Shape reads for the FLOP formulas.
#include "ir/flop_shapes.hpp"

namespace kiln::ir {

std::optional<Shape> FlopShapes::shape(const Value* v) const {
  if (!v || !v->shape) return std::nullopt;
  Shape s;
  for (const Dim& d : *v->shape) {
    if (d.known()) {
      s.push_back(d.value);
    } else if (as_one_) {
      as_one_->insert(d.symbol.empty() ? "?" : d.symbol);
      s.push_back(1);
    } else {
      return std::nullopt;
    }
  }
  return s;
}

std::optional<double> FlopShapes::numel(const Value* v) const {
  auto s = shape(v);
  if (!s) return std::nullopt;
  return dims_product(*s, 0, s->size());
}

std::optional<double> FlopShapes::dim(const Value* v, int64_t axis) const {
  auto s = shape(v);
  if (!s) return std::nullopt;
  auto rank = static_cast<int64_t>(s->size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return std::nullopt;
  return static_cast<double>((*s)[static_cast<size_t>(axis)]);
}

double dims_product(const Shape& s, size_t from, size_t to) {
  double p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= static_cast<double>(s[i]);
  return p;
}

}  // namespace kiln::ir
