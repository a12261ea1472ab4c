// Small pieces several CPU kernel families share: dispatch over the float dtypes, and a tensor
// seen as [outer, axis, inner] around one axis.
#pragma once

#include <type_traits>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

// Calls f with a value of T for float32/float64/float16/bfloat16; other dtypes fail naming the
// node.
template <typename F>
void visit_float_dtype(const KernelContext& ctx, DataType t, F&& f) {
  visit_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                  std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      f(tag);
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(t), " is not supported");
    }
  });
}

struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};

// Products of the dims before, at, and after `axis` (which must be in range).
inline AxisSplit split_at_axis(const Shape& s, int64_t axis) {
  AxisSplit r;
  for (int64_t k = 0; k < static_cast<int64_t>(s.size()); ++k) {
    int64_t d = s[static_cast<size_t>(k)];
    if (k < axis) r.outer *= d;
    if (k == axis) r.len = d;
    if (k > axis) r.inner *= d;
  }
  return r;
}

}  // namespace kiln::cpu
