// .npy header parsing is strict: the header is bounded, the dtype must be one kiln knows, and the
// data size must match the shape exactly.
#include "npy.hpp"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/error.hpp"

namespace kiln::tools {
namespace {

struct NpyType {
  const char* descr;
  DataType dtype;
};

constexpr NpyType kTypes[] = {
    {"<f4", DataType::kFloat32},
    {"<f2", DataType::kFloat16},
    {"<f8", DataType::kFloat64},
    {"|i1", DataType::kInt8},
    {"|u1", DataType::kUInt8},
    {"<i2", DataType::kInt16},
    {"<u2", DataType::kUInt16},
    {"<i4", DataType::kInt32},
    {"<u4", DataType::kUInt32},
    {"<i8", DataType::kInt64},
    {"<u8", DataType::kUInt64},
    {"|b1", DataType::kBool},
    // NumPy has no bfloat16/fp8: ml_dtypes writes them as raw 2- and 1-byte void types.
    {"<V2", DataType::kBFloat16},
    {"|V1", DataType::kFloat8E4M3},
};

constexpr size_t kMaxHeader = 1 << 16;

}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(ErrorCode::kIo, "cannot open '", path, "'");
  auto file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  char magic[8] = {};
  if (file_size < 10 || !f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' is not a .npy file (bad magic)");
  }
  uint32_t header_len = 0;
  uint64_t prefix = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
    prefix = 10;
  } else if (magic[6] == 2 || magic[6] == 3) {
    unsigned char b[4];
    f.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
    prefix = 12;
  } else {
    fail(ErrorCode::kInvalidArgument, "'", path, "' has unknown .npy version ", int(magic[6]));
  }
  if (header_len > kMaxHeader || prefix + header_len > file_size) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' has a corrupt .npy header length");
  }
  std::string header(header_len, '\0');
  f.read(header.data(), header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'"))) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' .npy header has no descr");
  }
  std::string descr = m[1];
  if (descr == "<V2" || descr == "|V2") descr = "<V2";
  const NpyType* type = nullptr;
  for (const auto& t : kTypes) {
    if (descr == t.descr) type = &t;
  }
  if (!type)
    fail(ErrorCode::kUnsupported, "'", path, "' has dtype '", descr,
         "', which kiln does not support");
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True"))) {
    fail(ErrorCode::kUnsupported, "'", path, "' is in Fortran order; save it C-contiguous");
  }
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' .npy header has no shape");
  }
  Shape shape;
  std::stringstream dims(m[1].str());
  std::string item;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(" ") == std::string::npos) continue;
    try {
      shape.push_back(std::stoll(item));
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidArgument, "'", path, "' has a bad shape entry '", item, "'");
    }
  }
  uint64_t data_bytes = file_size - prefix - header_len;
  int64_t numel;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' has an invalid shape ", shape_to_string(shape));
  }
  if (static_cast<uint64_t>(numel) * element_size(type->dtype) != data_bytes) {
    fail(ErrorCode::kInvalidArgument, "'", path, "' holds ", data_bytes, " bytes of data; shape ",
         shape_to_string(shape), " of ", to_string(type->dtype), " needs ",
         numel * static_cast<int64_t>(element_size(type->dtype)));
  }
  Tensor t(type->dtype, shape);
  if (!f.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(data_bytes))) {
    fail(ErrorCode::kIo, "cannot read data of '", path, "'");
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  for (const auto& k : kTypes) {
    if (k.dtype == t.dtype()) descr = k.descr;
  }
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ",";
  if (t.rank() > 1) shape.pop_back();
  shape += ")";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(ErrorCode::kIo, "cannot open '", path, "' for writing");
  f.write("\x93NUMPY\x01\x00", 8);
  auto len = static_cast<uint16_t>(header.size());
  char b[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(b, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "'");
}

}  // namespace kiln::tools
