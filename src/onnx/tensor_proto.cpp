// TensorProto decoding: typed fields, raw data, and external data files (memory-mapped).
#include "onnx/tensor_proto.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "core/checked_size.hpp"
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

// Keeps the mapped part of an external-data file alive for as long as any tensor borrows from it.
struct MappedRange {
  void* addr = nullptr;
  size_t size = 0;
  ~MappedRange() {
    if (addr && addr != MAP_FAILED) munmap(addr, size);
  }
};

// An open file descriptor that closes itself.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens an external-data file for reading and returns its size. Only a regular file will do: a
// FIFO would block the import forever and a device could never end. The path is checked before
// opening, the open itself cannot block (O_NONBLOCK) or follow a link swapped in meanwhile
// (O_NOFOLLOW), and the opened file is checked again.
int64_t open_external_file(const std::filesystem::path& file, FileDescriptor& f,
                           const std::string& what) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    fail(ErrorCode::kIo, what, ": cannot open external-data file '", file.string(),
         "': ", std::strerror(errno));
  }
  auto not_regular = [&] {
    fail(ErrorCode::kInvalidModel, what, ": external-data file '", file.string(),
         "' is not a regular file");
  };
  if (!S_ISREG(st.st_mode)) not_regular();
  f.fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (f.fd < 0) {
    fail(ErrorCode::kIo, what, ": cannot open external-data file '", file.string(),
         "': ", std::strerror(errno));
  }
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) not_regular();
  return static_cast<int64_t>(st.st_size);
}

Tensor read_external(const P& proto, DataType dtype, const Shape& shape,
                     const std::string& base_dir, const std::string& what) {
  ExternalDataRef ref = external_data_ref(proto, base_dir, what);
  const std::string file = ref.file.string();
  const int64_t numel = checked_numel(shape, element_size(dtype), ErrorCode::kInvalidModel, what);
  const auto need = static_cast<int64_t>(
      checked_nbytes(numel, element_size(dtype), ErrorCode::kInvalidModel, what));
  if (ref.length >= 0 && ref.length != need) {
    fail(ErrorCode::kInvalidModel, what, " of ", to_string(dtype), shape_to_string(shape),
         " needs ", need, " bytes, but its external-data length is ", ref.length);
  }
  FileDescriptor f;
  const int64_t file_size = open_external_file(ref.file, f, what);
  std::optional<int64_t> end = checked_add(ref.offset, need);
  if (!end || *end > file_size) {
    fail(ErrorCode::kInvalidModel, what, " needs ", need, " bytes at offset ", ref.offset, " of '",
         file, "', which has ", file_size, " bytes");
  }
  if (need == 0) return Tensor(dtype, shape);
  // Map only the pages holding the tensor. Private and writable: pages are shared with the page
  // cache until a kernel writes to them.
  const auto page = static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
  const int64_t map_start = ref.offset / page * page;
  auto mapped = std::make_shared<MappedRange>();
  mapped->size = static_cast<size_t>(*end - map_start);
  mapped->addr = mmap(nullptr, mapped->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd,
                      static_cast<off_t>(map_start));
  if (mapped->addr == MAP_FAILED) {
    fail(ErrorCode::kIo, what, ": cannot map '", file, "': ", std::strerror(errno));
  }
  void* data = static_cast<char*>(mapped->addr) + (ref.offset - map_start);
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

// An external-data offset or length: decimal digits only, the whole string, within int64. ONNX
// writes them with str(int); anything else ("12abc", " 12", "-1", "0x10") is a malformed model.
int64_t parse_external_number(const std::string& text, const std::string& key,
                              const std::string& what) {
  int64_t v = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (text.empty() || text[0] == '-' || ec != std::errc() || ptr != last) {
    fail(ErrorCode::kInvalidModel, what, " has external-data ", key, " '", text,
         "'; it must be a non-negative decimal integer below 2^63");
  }
  return v;
}

// `location` resolved inside `base_dir`, symbolic links included: a link in the model's folder
// must not lead out of it, so the check compares real paths, not the text of the location.
std::filesystem::path resolve_inside(const std::string& base_dir, const std::string& location,
                                     const std::string& what) {
  namespace fs = std::filesystem;
  fs::path rel(location);
  auto escapes = [&](const std::string& why) {
    fail(ErrorCode::kInvalidModel, what, " has external-data location '", location, "'; ", why);
  };
  if (location.empty() || rel.is_absolute() ||
      std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; })) {
    escapes("it must be a relative path inside the model's folder");
  }
  std::error_code ec;
  fs::path base = fs::canonical(base_dir.empty() ? fs::path(".") : fs::path(base_dir), ec);
  if (ec) {
    fail(ErrorCode::kIo, what, ": cannot resolve the model's folder '", base_dir,
         "': ", ec.message());
  }
  fs::path target = fs::weakly_canonical(base / rel, ec);
  if (ec) {
    fail(ErrorCode::kIo, what, ": cannot resolve external-data location '", location,
         "': ", ec.message());
  }
  // Inside means below: every component of the folder, then at least one more.
  auto [b, t] = std::mismatch(base.begin(), base.end(), target.begin(), target.end());
  if (b != base.end() || t == target.end()) {
    escapes(cat("it resolves to '", target.string(), "', outside the model's folder '",
                base.string(), "'"));
  }
  return target;
}

}  // namespace

ExternalDataRef external_data_ref(const ::onnx::TensorProto& proto, const std::string& base_dir,
                                  const std::string& what) {
  std::optional<std::string> location;
  std::optional<int64_t> offset, length;
  for (const auto& kv : proto.external_data()) {
    const std::string& key = kv.key();
    if (key != "location" && key != "offset" && key != "length") continue;  // e.g. "checksum"
    if ((key == "location" && location) || (key == "offset" && offset) ||
        (key == "length" && length)) {
      fail(ErrorCode::kInvalidModel, what, " gives external-data ", key, " twice");
    }
    if (key == "location") location = kv.value();
    if (key == "offset") offset = parse_external_number(kv.value(), key, what);
    if (key == "length") length = parse_external_number(kv.value(), key, what);
  }
  ExternalDataRef ref;
  ref.file = resolve_inside(base_dir, location.value_or(""), what);
  ref.offset = offset.value_or(0);
  ref.length = length.value_or(-1);
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
  size_t esize = element_size(*dtype);
  // Negative dims, an element count past 64 bits, and a byte size past the limit all fail here,
  // before any size is used.
  const int64_t numel = checked_numel(shape, esize, ErrorCode::kInvalidModel, what);
  if (proto.data_location() == P::EXTERNAL) {
    return read_external(proto, *dtype, shape, base_dir, what);
  }
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    size_t need = checked_nbytes(numel, esize, ErrorCode::kInvalidModel, what);
    if (raw.size() != need) {
      fail(ErrorCode::kInvalidModel, what, " has ", raw.size(), " bytes of raw data; shape ",
           shape_to_string(shape), " of ", to_string(*dtype), " needs ", need);
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
