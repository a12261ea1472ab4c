// The shapes the FLOP formulas of the op table (OpTraits::flops) read. With `as_one` set, an
// unknown dimension of a known rank counts as 1 and its symbol is recorded, so a model with a
// symbolic batch still gets per-sample FLOPs.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "ir/graph.hpp"

namespace kiln::ir {

class FlopShapes {
 public:
  explicit FlopShapes(std::set<std::string>* as_one = nullptr) : as_one_(as_one) {}

  std::optional<Shape> shape(const Value* v) const;
  std::optional<double> numel(const Value* v) const;
  // The size of one dimension (negative: from the back).
  std::optional<double> dim(const Value* v, int64_t axis) const;

 private:
  std::set<std::string>* as_one_;
};

// The product of dims [from, to) of `s` (to clamped to its rank).
double dims_product(const Shape& s, size_t from, size_t to);

}  // namespace kiln::ir
