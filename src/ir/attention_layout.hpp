// Operand layouts of ScaledDotProductAttention. An operand may be stored permuted: with the
// attribute q_perm (k_perm, v_perm) the layer reads Q as Transpose(input, perm), so a head-split
// Transpose in front of the attention needs no copy; with y_perm it writes Transpose(Y, perm)
// (the transpose that merged the heads back). absorb_attention_transposes sets them; the CPU and
// CUDA kernels read and write through the strides computed here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/attribute.hpp"
#include "ir/graph.hpp"
#include "kiln/types.hpp"

namespace kiln::ir {

// The names of the four layout attributes, in operand order Q, K, V, Y.
inline constexpr const char* kAttentionPermAttrs[] = {"q_perm", "k_perm", "v_perm", "y_perm"};

// The permutation of operand `which` (0..3 for Q, K, V, Y), or empty when it is stored as is.
// Fails when the attribute is not a permutation of `rank` axes.
std::vector<int64_t> attention_perm(const Attributes& attrs, int which, size_t rank);

// shape[perm[j]] for each j: the logical shape of an input stored as `shape`, or the stored shape
// of an output whose logical shape is `shape` (an empty perm leaves it as is).
template <typename S>
S permuted(const S& shape, const std::vector<int64_t>& perm) {
  if (perm.empty()) return shape;
  S out;
  for (int64_t p : perm) out.push_back(shape[static_cast<size_t>(p)]);
  return out;
}

// Element strides for reading a packed tensor stored as `stored`, taken in the logical order of
// `perm`, broadcast to `target` (the same or a higher rank): 0 along broadcast dims.
std::vector<int64_t> attention_input_strides(const Shape& stored, const std::vector<int64_t>& perm,
                                             const Shape& target);
// Element strides, in logical order, of an output with logical shape `logical` stored packed as
// permuted(logical, perm).
std::vector<int64_t> attention_output_strides(const Shape& logical,
                                              const std::vector<int64_t>& perm);

}  // namespace kiln::ir
