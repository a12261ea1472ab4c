// DataType and ErrorCode tables.
#include "kiln/types.hpp"

#include <array>

namespace kiln {
namespace {

struct DataTypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<DataTypeInfo, 14> kDataTypes = {{
    {DataType::kFloat32, "float32", 4},
    {DataType::kFloat16, "float16", 2},
    {DataType::kBFloat16, "bfloat16", 2},
    {DataType::kFloat8E4M3, "float8e4m3", 1},
    {DataType::kFloat64, "float64", 8},
    {DataType::kInt8, "int8", 1},
    {DataType::kUInt8, "uint8", 1},
    {DataType::kInt16, "int16", 2},
    {DataType::kUInt16, "uint16", 2},
    {DataType::kInt32, "int32", 4},
    {DataType::kUInt32, "uint32", 4},
    {DataType::kInt64, "int64", 8},
    {DataType::kUInt64, "uint64", 8},
    {DataType::kBool, "bool", 1},
}};

const DataTypeInfo& info(DataType t) {
  for (const auto& i : kDataTypes) {
    if (i.type == t) return i;
  }
  throw Error(ErrorCode::kInternal,
              "unknown DataType value " + std::to_string(static_cast<int>(t)));
}

}  // namespace

size_t element_size(DataType t) {
  return info(t).size;
}
std::string_view to_string(DataType t) {
  return info(t).name;
}

std::optional<DataType> parse_data_type(std::string_view name) {
  for (const auto& i : kDataTypes) {
    if (i.name == name) return i.type;
  }
  return std::nullopt;
}

bool is_floating(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kBFloat16 ||
         t == DataType::kFloat8E4M3 || t == DataType::kFloat64;
}

bool is_signed_integer(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt16 || t == DataType::kInt32 ||
         t == DataType::kInt64;
}

bool is_unsigned_integer(DataType t) {
  return t == DataType::kUInt8 || t == DataType::kUInt16 || t == DataType::kUInt32 ||
         t == DataType::kUInt64;
}

std::string_view to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kInvalidModel:
      return "invalid model";
    case ErrorCode::kInvalidPlan:
      return "invalid plan";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "error";
}

}  // namespace kiln
