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

// Product of dims, or -1 if any is unknown (or, on a shape no check has vetted, if it overflows).
int64_t known_product(const SymShape& s, size_t begin, size_t end);

// The most dims an output whose rank comes from another tensor's length (Reshape's target,
// ConstantOfShape's shape, Col2Im's image_shape) may have: far above any real model's, and low
// enough that a shape input declared with 2^62 entries cannot make inference allocate them.
inline constexpr int64_t kMaxRank = 64;

// `rank` (the length of input `what`), failing naming the node past kMaxRank.
int64_t checked_rank(const InferenceContext& ctx, int64_t rank, const char* what);

// a * b, a + b and a - b (any signs), failing naming the node instead of overflowing on hostile
// shapes or attributes.
int64_t checked_mul(const InferenceContext& ctx, int64_t a, int64_t b);
int64_t checked_add(const InferenceContext& ctx, int64_t a, int64_t b);
int64_t checked_sub(const InferenceContext& ctx, int64_t a, int64_t b);

// What is wrong with the size of a tensor of `dtype` and shape `s`, or nullopt if nothing: its
// known non-zero dims must multiply within 64 bits, and when every dim is known its byte size
// must be within tensor_byte_limit(). Every inferred output, graph input and plan value is
// checked, so kernels and planners can multiply dims without overflowing.
std::optional<std::string> shape_size_problem(const SymShape& s, DataType dtype);

// The input's int values, failing unless it is a 1-D (or, with `allow_scalar`, 0-D) tensor.
std::optional<std::vector<int64_t>> input_int_list(const InferenceContext& ctx, size_t i,
                                                   const char* what, bool allow_scalar = false);

// Length of a 1-D input from its shape alone (when its contents are unknown), or -1; the callers
// make an output of that rank, so a length past kMaxRank fails.
int64_t known_length(const InferenceContext& ctx, size_t i);

// Fails unless input i is float32, float64, float16 or bfloat16 (the ops' "float" type set).
void require_float_input(const InferenceContext& ctx, size_t i);

}  // namespace kiln::ir
