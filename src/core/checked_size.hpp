// Overflow-checked arithmetic on sizes. Every size computed from untrusted input (model files,
// plans, .npy files, shapes given at run time) goes through these or through the public
// checked_numel / checked_nbytes (kiln/tensor.hpp), so a hostile size is an error naming the
// tensor instead of a wrapped number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "kiln/tensor.hpp"  // checked_numel, checked_nbytes, tensor_byte_limit

namespace kiln {

// a * b and a + b for non-negative operands, or nothing where the result exceeds int64_t.
std::optional<int64_t> checked_mul(int64_t a, int64_t b);
std::optional<int64_t> checked_add(int64_t a, int64_t b);

}  // namespace kiln
