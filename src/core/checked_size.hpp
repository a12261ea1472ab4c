// Overflow-checked element counts and byte sizes, and the limit on one tensor's size. Every size
// computed from untrusted input (model files, plans, .npy files, shapes given at run time) goes
// through these, so a hostile size is an error naming the tensor instead of a wrapped number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "kiln/tensor.hpp"  // tensor_byte_limit, set_tensor_byte_limit

namespace kiln {

// a * b and a + b for non-negative operands, or nothing where the result exceeds int64_t.
std::optional<int64_t> checked_mul(int64_t a, int64_t b);
std::optional<int64_t> checked_add(int64_t a, int64_t b);

// The element count of `dims`. Throws Error(code) naming `what` (a tensor, "input 'x'", a file)
// on a negative dimension, on an overflow, or where elements x element_size passes the limit.
// The non-zero dims must multiply within 64 bits even where another dim is 0, so kernels may
// multiply any subset of a tensor's dims (strides, outer and inner block sizes) without overflow.
int64_t checked_numel(std::span<const int64_t> dims, size_t element_size, ErrorCode code,
                      std::string_view what);

// elements x element_size in bytes, under the same checks.
size_t checked_nbytes(int64_t elements, size_t element_size, ErrorCode code, std::string_view what);

}  // namespace kiln
