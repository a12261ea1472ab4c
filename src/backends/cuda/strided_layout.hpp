// Host-side description of up to kMaxDims-dimensional strided operands sharing one iteration
// shape (broadcasting, transposes, slices), with adjacent dimensions merged where every operand
// allows it so the device does as few divisions as possible.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::cuda {

constexpr int kMaxDims = 8;

template <int N>
struct StridedLayout {
  int rank = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// Builds a layout iterating `shape` with each operand's strides (element units), merging
// dimensions and dropping size-1 ones. Throws kUnsupported past kMaxDims after merging.
template <int N>
StridedLayout<N> make_strided_layout(const Shape& shape,
                                     const std::vector<std::vector<int64_t>>& strides);

// Row-major strides of a contiguous tensor, and those reading `in` broadcast to `out`.
std::vector<int64_t> contiguous_strides(const Shape& shape);
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// How a binary op walks its operands, decided once at prepare time from the static shapes.
struct BinaryPlan {
  bool flat = false;  // each operand is the output's shape or a single value
  bool a_scalar = false, b_scalar = false;
  StridedLayout<2> layout;  // general broadcasting (output contiguous)
};

BinaryPlan plan_binary(const Shape& a, const Shape& b, const Shape& out);

}  // namespace kiln::cuda
