// TensorProto decoding: typed fields, raw data, and external data files (memory-mapped).
#include "onnx/tensor_proto.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/float_types.hpp"

namespace kiln::onnx {
namespace {

using P = ::onnx::TensorProto;

struct DtypeEntry {
  int32_t onnx;
  DataType kiln;
};

constexpr DtypeEntry kDtypes[] = {
    {P::FLOAT, DataType::kFloat32},     {P::FLOAT16, DataType::kFloat16},
    {P::BFLOAT16, DataType::kBFloat16}, {P::FLOAT8E4M3FN, DataType::kFloat8E4M3},
    {P::DOUBLE, DataType::kFloat64},    {P::INT8, DataType::kInt8},
    {P::UINT8, DataType::kUInt8},       {P::INT16, DataType::kInt16},
    {P::UINT16, DataType::kUInt16},     {P::INT32, DataType::kInt32},
    {P::UINT32, DataType::kUInt32},     {P::INT64, DataType::kInt64},
    {P::UINT64, DataType::kUInt64},     {P::BOOL, DataType::kBool},
};

// Keeps an external-data file mapped for as long as any tensor borrows from it.
struct MappedFile {
  void* addr = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (addr && addr != MAP_FAILED) munmap(addr, size);
  }
};

Tensor read_external(const P& proto, DataType dtype, const Shape& shape,
                     const std::string& base_dir, const std::string& what) {
  ExternalDataRef ref = external_data_ref(proto, base_dir, what);
  const std::filesystem::path& file = ref.file;
  const int64_t offset = ref.offset;
  int64_t length = ref.length;
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) {
    fail(ErrorCode::kIo, what, ": cannot open external-data file '", file.string(),
         "': ", std::strerror(errno));
  }
  struct stat st {};
  fstat(fd, &st);
  auto file_size = static_cast<int64_t>(st.st_size);
  auto need = static_cast<int64_t>(shape_numel(shape) * static_cast<int64_t>(element_size(dtype)));
  if (length < 0) length = need;
  if (offset < 0 || length != need || offset > file_size || file_size - offset < length) {
    ::close(fd);
    fail(ErrorCode::kInvalidModel, what, " needs ", need, " bytes at offset ", offset, " of '",
         file.string(), "' (", file_size, " bytes, length field ", length, ")");
  }
  if (need == 0) {
    ::close(fd);
    return Tensor(dtype, shape);
  }
  auto mapped = std::make_shared<MappedFile>();
  mapped->size = static_cast<size_t>(file_size);
  // Private, writable mapping: pages are shared with the page cache until written.
  mapped->addr = mmap(nullptr, mapped->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapped->addr == MAP_FAILED) {
    fail(ErrorCode::kIo, what, ": cannot map '", file.string(), "': ", std::strerror(errno));
  }
  void* data = static_cast<char*>(mapped->addr) + offset;
  if (reinterpret_cast<uintptr_t>(data) % element_size(dtype) != 0) {
    // Misaligned for the element type: copy rather than borrow.
    return Tensor::from_bytes(dtype, shape,
                              {static_cast<const std::byte*>(data), static_cast<size_t>(need)});
  }
  return Tensor::borrow(dtype, shape, data, mapped);
}

template <typename Src, typename Fn>
void fill_from_field(Tensor& t, const Src& field, const std::string& what, Fn convert) {
  if (field.size() != t.numel()) {
    fail(ErrorCode::kInvalidModel, what, " has ", field.size(), " values for shape ",
         shape_to_string(t.shape()));
  }
  for (int64_t i = 0; i < t.numel(); ++i) convert(i, field.Get(static_cast<int>(i)));
}

}  // namespace

ExternalDataRef external_data_ref(const ::onnx::TensorProto& proto, const std::string& base_dir,
                                  const std::string& what) {
  std::string location;
  ExternalDataRef ref;
  for (const auto& kv : proto.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      if (kv.key() == "offset") ref.offset = std::stoll(kv.value());
      if (kv.key() == "length") ref.length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidModel, what, " has a non-numeric external-data ", kv.key(), " '",
           kv.value(), "'");
    }
  }
  namespace fs = std::filesystem;
  fs::path rel(location);
  if (location.empty() || rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; })) {
    fail(ErrorCode::kInvalidModel, what, " has external-data location '", location,
         "'; it must be a relative path inside the model's folder");
  }
  ref.file = fs::path(base_dir) / rel;
  return ref;
}

std::optional<DataType> from_onnx_dtype(int32_t onnx_type) {
  for (const auto& e : kDtypes) {
    if (e.onnx == onnx_type) return e.kiln;
  }
  return std::nullopt;
}

int32_t to_onnx_dtype(DataType t) {
  for (const auto& e : kDtypes) {
    if (e.kiln == t) return e.onnx;
  }
  return P::UNDEFINED;
}

std::string onnx_dtype_name(int32_t onnx_type) {
  if (P::DataType_IsValid(onnx_type)) return P::DataType_Name(static_cast<P::DataType>(onnx_type));
  return "type code " + std::to_string(onnx_type);
}

Tensor tensor_from_proto(const P& proto, const std::string& base_dir, const std::string& what) {
  auto dtype = from_onnx_dtype(proto.data_type());
  if (!dtype) {
    fail(ErrorCode::kUnsupported, what, " has element type ", onnx_dtype_name(proto.data_type()),
         ", which kiln does not support");
  }
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::kInvalidModel, what, " has negative dimension ", d);
  }
  int64_t numel;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    fail(ErrorCode::kInvalidModel, what, " has dims ", shape_to_string(shape),
         " whose element count overflows");
  }
  if (proto.data_location() == P::EXTERNAL) {
    return read_external(proto, *dtype, shape, base_dir, what);
  }
  size_t esize = element_size(*dtype);
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (static_cast<uint64_t>(numel) > raw.size() / esize || raw.size() != numel * esize) {
      fail(ErrorCode::kInvalidModel, what, " has ", raw.size(), " bytes of raw data; shape ",
           shape_to_string(shape), " of ", to_string(*dtype), " needs ", numel * esize);
    }
    return Tensor::from_bytes(*dtype, shape,
                              {reinterpret_cast<const std::byte*>(raw.data()), raw.size()});
  }
  // Typed fields hold one entry per element, so their size bounds the allocation below.
  int64_t available =
      std::max<int64_t>({proto.float_data_size(), proto.int32_data_size(), proto.int64_data_size(),
                         proto.double_data_size(), proto.uint64_data_size()});
  if (numel > available) {
    fail(ErrorCode::kInvalidModel, what, " has ", available, " values for shape ",
         shape_to_string(shape));
  }
  Tensor t(*dtype, shape);
  switch (*dtype) {
    case DataType::kFloat32:
      fill_from_field(t, proto.float_data(), what,
                      [&](int64_t i, float v) { t.data<float>()[i] = v; });
      break;
    case DataType::kFloat64:
      fill_from_field(t, proto.double_data(), what,
                      [&](int64_t i, double v) { t.data<double>()[i] = v; });
      break;
    case DataType::kInt64:
      fill_from_field(t, proto.int64_data(), what,
                      [&](int64_t i, int64_t v) { t.data<int64_t>()[i] = v; });
      break;
    case DataType::kUInt64:
      fill_from_field(t, proto.uint64_data(), what,
                      [&](int64_t i, uint64_t v) { t.data<uint64_t>()[i] = v; });
      break;
    case DataType::kUInt32:
      fill_from_field(t, proto.uint64_data(), what, [&](int64_t i, uint64_t v) {
        t.data<uint32_t>()[i] = static_cast<uint32_t>(v);
      });
      break;
    default: {
      // int32_data carries every narrower type: integers by value, fp16/bf16/fp8 by bit pattern.
      size_t es = esize;
      fill_from_field(t, proto.int32_data(), what, [&](int64_t i, int32_t v) {
        auto* dst = static_cast<char*>(t.raw()) + static_cast<size_t>(i) * es;
        if (es == 1) {
          auto b = static_cast<uint8_t>(v);
          std::memcpy(dst, &b, 1);
        } else if (es == 2) {
          auto h = static_cast<uint16_t>(v);
          std::memcpy(dst, &h, 2);
        } else {
          std::memcpy(dst, &v, 4);
        }
      });
    }
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, P& proto) {
  proto.Clear();
  proto.set_name(name);
  proto.set_data_type(to_onnx_dtype(t.dtype()));
  for (int64_t d : t.shape()) proto.add_dims(d);
  proto.set_raw_data(t.raw(), t.nbytes());
}

}  // namespace kiln::onnx
