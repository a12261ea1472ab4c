// Fuzz target: .npy file bytes -> the `kiln run --input` parser (tools/kiln/npy.cpp, parse_npy).
// Every input must give a tensor or a kiln::Error, and a tensor it gives must survive write_npy +
// read_npy unchanged.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "core/checked_size.hpp"
#include "kiln/kiln.hpp"
#include "npy.hpp"

namespace {

// write_npy and read_npy take a path: the round trip goes through an in-memory file (memfd).
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("kiln-fuzz-npy", 0)) {
    if (fd_ < 0) abort();
  }
  ~MemoryFile() { close(fd_); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  void write_all(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || lseek(fd_, 0, SEEK_SET) != 0) abort();
    while (size > 0) {
      ssize_t n = write(fd_, data, size);
      if (n <= 0) abort();
      data += n;
      size -= static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
};

MemoryFile* g_rewritten;

bool same_tensor(const kiln::Tensor& a, const kiln::Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::set_tensor_byte_limit(uint64_t{32} << 20);
  g_rewritten = new MemoryFile();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::Tensor tensor;
  try {
    tensor = kiln::tools::parse_npy(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "input.npy");
  } catch (const kiln::Error&) {
    return 0;
  }
  try {
    kiln::tools::write_npy(g_rewritten->path(), tensor);
    if (same_tensor(tensor, kiln::tools::read_npy(g_rewritten->path()))) return 0;
    fprintf(stderr, "a tensor read from .npy changed through write_npy + read_npy\n");
  } catch (const kiln::Error& e) {
    fprintf(stderr, "a tensor read from .npy could not be written and read back: %s\n", e.what());
  }
  abort();
}
