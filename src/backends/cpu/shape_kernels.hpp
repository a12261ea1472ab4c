// Shared pieces of the data-moving CPU kernels (shape*.cpp, indexing.cpp, generators.cpp):
// byte-width dispatch for pure data movement, and index checking.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {

// Calls f with an unsigned integer type as wide as one element of `t`: ops that only move
// elements are written once for every dtype.
template <typename F>
decltype(auto) visit_element_bytes(DataType t, F&& f) {
  switch (element_size(t)) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
    default:
      fail(ErrorCode::kInternal, "no byte-width type for dtype ", to_string(t));
  }
}

// An int32/int64 index tensor's contents as int64.
std::vector<int64_t> read_indices(const KernelContext& ctx, const Tensor& t);

// Maps index `v` (negative counts from the end) into [0, dim), failing with kInvalidArgument
// naming the node when it is out of range, so no kernel ever reads out of bounds.
inline int64_t resolve_index(const KernelContext& ctx, int64_t v, int64_t dim, int64_t axis) {
  if (v < -dim || v >= dim)
    ctx.fail(ErrorCode::kInvalidArgument, "index ", v, " is out of range for axis ", axis,
             " of size ", dim);
  return v < 0 ? v + dim : v;
}

// Product of dims [begin, end).
int64_t dims_product(const Shape& s, size_t begin, size_t end);

}  // namespace kiln::cpu
