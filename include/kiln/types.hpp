// Basic public vocabulary: element types (and, through kiln/error.hpp, the error every kiln API
// throws).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kiln/error.hpp"

namespace kiln {

// Storage types of tensors. TF32 is a compute precision, not a storage type, so it is absent.
enum class DataType : uint8_t {
  kFloat32 = 1,
  kFloat16,
  kBFloat16,
  kFloat8E4M3,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kUInt64,
  kBool,
};

size_t element_size(DataType t);
std::string_view to_string(DataType t);
std::optional<DataType> parse_data_type(std::string_view name);
bool is_floating(DataType t);
bool is_signed_integer(DataType t);
bool is_unsigned_integer(DataType t);

}  // namespace kiln
