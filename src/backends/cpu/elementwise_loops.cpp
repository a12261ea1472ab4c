// Reduction of a broadcast to rows (see BroadcastPlan).
#include "backends/cpu/elementwise_loops.hpp"

#include "backends/cpu/broadcast.hpp"

namespace kiln::cpu {

BroadcastPlan::BroadcastPlan(const Shape& out, const std::vector<Shape>& operands) {
  const size_t n_ops = operands.size();
  std::vector<std::vector<int64_t>> strides;
  for (const Shape& s : operands) strides.push_back(broadcast_strides(s, out));

  // Keep the dims of size > 1, merging each into the previous one when every operand walks the
  // pair as one contiguous run (stride[prev] == stride[this] * size[this]).
  Shape dims;
  std::vector<std::vector<int64_t>> kept(n_ops);
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;
    bool merge = !dims.empty();
    for (size_t k = 0; merge && k < n_ops; ++k) {
      merge = kept[k].back() == strides[k][d] * out[d];
    }
    if (merge) {
      dims.back() *= out[d];
      for (size_t k = 0; k < n_ops; ++k) kept[k].back() = strides[k][d];
    } else {
      dims.push_back(out[d]);
      for (size_t k = 0; k < n_ops; ++k) kept[k].push_back(strides[k][d]);
    }
  }
  inner_stride.assign(n_ops, 0);
  if (!dims.empty()) {
    inner = dims.back();
    dims.pop_back();
    for (size_t k = 0; k < n_ops; ++k) {
      inner_stride[k] = kept[k].back();
      kept[k].pop_back();
    }
  }
  outer_shape = std::move(dims);
  outer_strides = std::move(kept);
  rows = 1;
  for (int64_t d : outer_shape) rows *= d;
  if (inner == 0) rows = 0;
}

}  // namespace kiln::cpu
