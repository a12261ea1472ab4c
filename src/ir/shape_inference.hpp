// Building blocks shared by the ops' inference functions.
#pragma once

#include "ir/op_registry.hpp"

namespace kiln::ir {

// Numpy-style multidirectional broadcast of input shapes; unknown rank stays unknown.
std::optional<SymShape> broadcast_shapes(const InferenceContext& ctx,
                                         const std::vector<std::optional<SymShape>>& shapes);
// Broadcast of every present input of the node.
std::optional<SymShape> broadcast_inputs(const InferenceContext& ctx);

// Maps a possibly negative axis into [0, rank) (or [0, rank] with `allow_end`), failing clearly.
int64_t normalize_axis(const InferenceContext& ctx, int64_t axis, int64_t rank,
                       bool allow_end = false);

// Output 0 has the dtype and shape of input 0.
void infer_same_as_first(InferenceContext& ctx);

// Product of dims, or -1 if any is unknown.
int64_t known_product(const SymShape& s, size_t begin, size_t end);

}  // namespace kiln::ir
