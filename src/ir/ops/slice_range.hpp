// ONNX Slice's per-axis arithmetic (negative indices, clamping, negative steps), shared by Slice
// inference and the CPU Slice kernel so both agree on every edge case.
#pragma once

#include <algorithm>
#include <cstdint>

namespace kiln::ir {

struct SliceRange {
  int64_t start = 0;  // first index read
  int64_t step = 1;   // never 0
  int64_t count = 0;  // how many indices are read
};

// The elements `dim`[start:end:step] reads; `step` must not be 0.
inline SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  SliceRange r;
  r.step = step;
  if (dim <= 0) return r;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    r.count = end > start ? 1 + (end - start - 1) / step : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    // Negating INT64_MIN overflows; any step that large reads one element anyway.
    r.count = start > end ? 1 + (start - end - 1) / (step == INT64_MIN ? INT64_MAX : -step) : 0;
  }
  r.start = start;
  return r;
}

}  // namespace kiln::ir
