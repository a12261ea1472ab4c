// .npy files: a fixed preamble (magic, version, header length), the header (npy_header.cpp), then
// the data, whose length must match the shape exactly. Files come from anyone: sizes are
// overflow-checked, nothing is allocated before the file is known to hold it, and a path that is
// not a regular file is refused before it can block a read.
#include "npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "kiln/error.hpp"
#include "kiln/tensor.hpp"
#include "npy_header.hpp"

namespace kiln::tools {
namespace {

static_assert(std::endian::native == std::endian::little, "kiln tensors are little-endian");

constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr size_t kLongestPreamble = 12;  // magic, version, 4-byte header length (versions 2, 3)

// Where the header lies in the file.
struct NpyLayout {
  size_t header_offset = 0;
  size_t header_bytes = 0;
};

// Reads the preamble from `head`, the file's first bytes (up to kLongestPreamble of them).
NpyLayout parse_preamble(std::string_view head, uint64_t file_size, std::string_view file) {
  if (head.size() < 10 || head.substr(0, kMagic.size()) != kMagic) {
    fail(ErrorCode::kInvalidArgument, "'", file, "' is not a .npy file (bad magic)");
  }
  auto byte = [&](size_t i) { return uint32_t{static_cast<unsigned char>(head[i])}; };
  uint32_t major = byte(6), minor = byte(7);
  if (major < 1 || major > 3 || minor != 0) {
    fail(ErrorCode::kInvalidArgument, "'", file, "' has .npy format version ", major, ".", minor,
         "; kiln reads 1.0, 2.0 and 3.0");
  }
  NpyLayout l;
  if (major == 1) {
    l.header_offset = 10;
    l.header_bytes = byte(8) | byte(9) << 8;
  } else {
    if (head.size() < 12)
      fail(ErrorCode::kInvalidArgument, "'", file, "' ends inside its preamble");
    l.header_offset = 12;
    l.header_bytes = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
  }
  if (l.header_bytes > kMaxNpyHeaderBytes) {
    fail(ErrorCode::kInvalidArgument, "'", file, "' has a .npy header of ", l.header_bytes,
         " bytes; kiln reads headers of at most ", kMaxNpyHeaderBytes,
         " bytes (NumPy's default limit)");
  }
  if (l.header_offset + l.header_bytes > file_size) {
    fail(ErrorCode::kInvalidArgument, "'", file, "' is ", file_size, " bytes long and ends inside ",
         "its .npy header of ", l.header_bytes, " bytes");
  }
  return l;
}

// The data's byte count, checked against the `available` bytes that follow the header.
size_t data_bytes(const NpyHeader& h, uint64_t available, std::string_view file) {
  size_t elem = element_size(h.dtype);
  int64_t numel = checked_numel(h.shape, elem, ErrorCode::kInvalidArgument, cat("'", file, "'"));
  size_t need = static_cast<size_t>(numel) * elem;  // checked_numel checked this product
  if (need != available) {
    fail(ErrorCode::kInvalidArgument, "'", file, "' holds ", available, " bytes of data; shape ",
         shape_to_string(h.shape), " of ", to_string(h.dtype), " needs ", need);
  }
  return need;
}

// NumPy stores F-contiguous arrays column-major (fortran_order True): the first index varies
// fastest. Kiln tensors are row-major, so the elements are put in row-major order.
Tensor fortran_to_c(const Tensor& f) {
  Tensor c(f.dtype(), f.shape());
  const Shape& shape = f.shape();
  const size_t rank = shape.size(), elem = element_size(f.dtype());
  std::vector<int64_t> stride(rank);  // column-major, in elements
  int64_t s = 1;
  for (size_t k = 0; k < rank; ++k) {
    stride[k] = s;
    s *= shape[k];
  }
  std::vector<int64_t> index(rank, 0);
  const auto* src = static_cast<const std::byte*>(f.raw());
  auto* dst = static_cast<std::byte*>(c.raw());
  int64_t from = 0;
  for (int64_t i = 0; i < f.numel(); ++i) {
    std::memcpy(dst + static_cast<size_t>(i) * elem, src + static_cast<size_t>(from) * elem, elem);
    // The next row-major index: the last axis counts fastest.
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < shape[k]) {
        from += stride[k];
        break;
      }
      from -= stride[k] * (shape[k] - 1);
      index[k] = 0;
    }
  }
  return c;
}

// Brings data as stored into kiln's layout: little-endian bytes, bools 0 or 1, row-major.
Tensor to_kiln_layout(Tensor t, const NpyHeader& h) {
  const size_t elem = element_size(h.dtype), n = t.nbytes();
  auto* p = static_cast<unsigned char*>(t.raw());
  if (h.big_endian) {
    for (size_t i = 0; i < n; i += elem) std::reverse(p + i, p + i + elem);
  }
  // A C++ bool holding 2 is undefined behaviour; NumPy reads any nonzero byte as True.
  if (h.dtype == DataType::kBool) {
    for (size_t i = 0; i < n; ++i) p[i] = p[i] != 0;
  }
  if (h.fortran_order && t.rank() > 1) return fortran_to_c(t);
  return t;
}

const char* not_regular_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// A regular file open for reading at offsets; closed when destroyed.
class RegularFile {
 public:
  explicit RegularFile(const std::string& path) : path_(path) {
    struct stat st {};
    // stat first, so a FIFO or a device is refused without being opened at all.
    if (::stat(path.c_str(), &st) != 0) {
      fail(ErrorCode::kIo, "cannot open '", path, "': ", std::strerror(errno));
    }
    require_regular(st);
    // Non-blocking, so that a path swapped for a FIFO after the stat still cannot block the open.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fail(ErrorCode::kIo, "cannot open '", path, "': ", std::strerror(errno));
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      int saved = errno;
      ::close(fd_);
      if (!S_ISREG(st.st_mode)) require_regular(st);
      fail(ErrorCode::kIo, "cannot read '", path, "': ", std::strerror(saved));
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~RegularFile() { ::close(fd_); }
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  uint64_t size() const { return size_; }

  // Reads up to `n` bytes at `offset`; fewer only where the file ends.
  size_t read_at(void* dst, size_t n, uint64_t offset) const {
    size_t done = 0;
    while (done < n) {
      ssize_t r =
          ::pread(fd_, static_cast<char*>(dst) + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(ErrorCode::kIo, "cannot read '", path_, "': ", std::strerror(errno));
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  void read_exactly(void* dst, size_t n, uint64_t offset) const {
    if (read_at(dst, n, offset) != n) {
      fail(ErrorCode::kIo, "'", path_, "' became shorter while kiln read it");
    }
  }

 private:
  void require_regular(const struct stat& st) const {
    if (!S_ISREG(st.st_mode)) {
      fail(ErrorCode::kIo, "'", path_, "' is ", not_regular_kind(st.st_mode), ", not a .npy file");
    }
  }

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

Tensor read_npy(const std::string& path) {
  RegularFile f(path);
  char head[kLongestPreamble];
  size_t got = f.read_at(head, sizeof(head), 0);
  NpyLayout l = parse_preamble({head, got}, f.size(), path);
  std::string header(l.header_bytes, '\0');
  f.read_exactly(header.data(), header.size(), l.header_offset);
  NpyHeader h = parse_npy_header(header, path);
  uint64_t data_start = l.header_offset + l.header_bytes;
  size_t n = data_bytes(h, f.size() - data_start, path);
  Tensor t(h.dtype, h.shape);
  f.read_exactly(t.raw(), n, data_start);
  return to_kiln_layout(std::move(t), h);
}

Tensor parse_npy(std::span<const std::byte> bytes, std::string_view file) {
  std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  NpyLayout l = parse_preamble(all.substr(0, kLongestPreamble), all.size(), file);
  NpyHeader h = parse_npy_header(all.substr(l.header_offset, l.header_bytes), file);
  size_t data_start = l.header_offset + l.header_bytes;
  size_t n = data_bytes(h, all.size() - data_start, file);
  return to_kiln_layout(Tensor::from_bytes(h.dtype, h.shape, bytes.subspan(data_start, n)), h);
}

void write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  }
  shape += t.rank() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + npy_descr(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Like NumPy: spaces so that the data starts at a multiple of 64 bytes, then a newline.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff) {
    fail(ErrorCode::kUnsupported, "cannot write '", path, "': shape ", shape_to_string(t.shape()),
         " is too long for a version 1.0 .npy header");
  }
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
