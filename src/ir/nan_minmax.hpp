// max and min that keep a NaN, for the CPU kernels and the CUDA kernels alike (nvcc compiles them
// for host and device): the max reductions, pools, arg reductions and scatter reductions use them
// so that a NaN anywhere in a window or slice reaches the output, whatever its position.
#pragma once

#include "ir/host_device.hpp"

namespace kiln::ir {

// max(a, b) and min(a, b) that return a NaN from either side, as numpy's maximum/minimum and ONNX
// Runtime's Max/Min do. std::max, fmaxf and `a > b ? a : b` each drop a NaN on one side or both,
// which makes a max reduction or pool lose a NaN depending on where it sits. Integers take the
// plain comparison (a != a is false). A select, not a branch: loops stay vectorizable.
template <typename C>
KILN_HOST_DEVICE inline C max_keep_nan(C a, C b) {
  return (a > b || a != a) ? a : b;
}
template <typename C>
KILN_HOST_DEVICE inline C min_keep_nan(C a, C b) {
  return (a < b || a != a) ? a : b;
}

// Strict orders for picking a maximum or a minimum in which a NaN comes before every number, as
// numpy's argmax/argmin and sort (TopK) have it: a > b (a < b), or a is NaN and b is not. A scan
// that keeps its first best element and replaces it only by one that comes before it stops at the
// first NaN.
template <typename C>
KILN_HOST_DEVICE inline bool greater_nan_first(C a, C b) {
  return a > b || (a != a && b == b);
}
template <typename C>
KILN_HOST_DEVICE inline bool less_nan_first(C a, C b) {
  return a < b || (a != a && b == b);
}

}  // namespace kiln::ir
