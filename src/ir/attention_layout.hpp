// Operand layouts of ScaledDotProductAttention. An operand may be stored permuted: with the
// attribute q_perm (k_perm, v_perm) the layer reads Q as Transpose(input, perm), so a head-split
// Transpose in front of the attention needs no copy; with y_perm it writes Transpose(Y, perm)
// (the transpose that merged the heads back). absorb_attention_transposes sets them; the CPU and
// CUDA kernels read and write through the strides computed here.
// More generally, q_view (k_view, v_view) = [offset, dim0, stride0, dim1, stride1, ...] reads the
// operand as a strided view of the input: what a chain of Reshape/Transpose/Squeeze/Unsqueeze/
// Gather(constant index) layers would have copied out of it (PyTorch's MHA export slices Q, K and
// V out of one projection that way). Views are checked to stay inside the input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/attribute.hpp"
#include "ir/graph.hpp"
#include "kiln/types.hpp"

namespace kiln::ir {

// The names of the four layout attributes, in operand order Q, K, V, Y, and the three view ones.
inline constexpr const char* kAttentionPermAttrs[] = {"q_perm", "k_perm", "v_perm", "y_perm"};
inline constexpr const char* kAttentionViewAttrs[] = {"q_view", "k_view", "v_view"};

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

// How input operand `which` (0..2 for Q, K, V) is read from its packed input tensor `stored`:
// its logical shape, the element stride of each logical dim and the element offset of its first
// element. Fails (naming the attribute) for a malformed perm or a view reaching outside `stored`.
struct OperandLayout {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
};
OperandLayout attention_operand(const Attributes& attrs, int which, const Shape& stored);
// The logical shape of input operand `which` at inference time (the stored shape may be symbolic;
// a view needs it known, to be checked).
SymShape attention_operand_shape(const Attributes& attrs, int which, const SymShape& stored);
// The operand's strides broadcast to `target` (the same or a higher rank): 0 along dims it
// broadcasts over.
std::vector<int64_t> broadcast_operand(const OperandLayout& operand, const Shape& target);

// Element strides, in logical order, of an output with logical shape `logical` stored packed as
// permuted(logical, perm).
std::vector<int64_t> attention_output_strides(const Shape& logical,
                                              const std::vector<int64_t>& perm);

}  // namespace kiln::ir
