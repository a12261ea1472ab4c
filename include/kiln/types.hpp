// Basic public vocabulary: element types and the error every kiln API throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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

enum class ErrorCode : uint8_t {
  kInvalidArgument,  // the caller passed something wrong (shape, name, option)
  kUnsupported,      // a valid request kiln cannot do (op, attribute value, dtype)
  kInvalidModel,     // a malformed or hostile model file
  kInvalidPlan,      // a corrupt, truncated, foreign or mismatched plan file
  kIo,               // a file could not be read or written
  kInternal,         // a bug in kiln
};

std::string_view to_string(ErrorCode c);

// The one exception type of the public API. what() is a complete, user-facing sentence naming
// what is wrong (file, node, op, tensor).
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace kiln
