// The shape op family's schemas are registered from three files; register_shape_ops (shape.cpp)
// calls the other two. Also holds the input readers their inference functions share.
#pragma once

#include <optional>
#include <vector>

#include "ir/op_registry.hpp"

namespace kiln::ir {

void register_indexing_ops(OpRegistry& r);   // Slice, Gather*, Scatter*, Pad, NonZero, OneHot
void register_generator_ops(OpRegistry& r);  // ConstantOfShape, Range, EyeLike, Trilu
void register_rearrange_ops(OpRegistry& r);  // Rearrange (kiln's: rearrange.hpp)

// The input's int values, failing unless it is a 1-D (or, with `allow_scalar`, 0-D) tensor.
std::optional<std::vector<int64_t>> input_int_list(const InferenceContext& ctx, size_t i,
                                                   const char* what, bool allow_scalar = false);

// Length of a 1-D input from its shape alone (when its contents are unknown), or -1; the callers
// make an output of that rank, so a length past kMaxRank fails.
int64_t known_length(const InferenceContext& ctx, size_t i);

}  // namespace kiln::ir
