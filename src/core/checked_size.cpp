// Overflow-checked sizes and the tensor size limit.
#include "core/checked_size.hpp"

#include <atomic>
#include <limits>

#include "core/error.hpp"

namespace kiln {
namespace {

std::atomic<uint64_t> g_tensor_byte_limit{uint64_t{64} << 30};

std::string dims_to_string(std::span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

}  // namespace

uint64_t tensor_byte_limit() {
  return g_tensor_byte_limit.load(std::memory_order_relaxed);
}

void set_tensor_byte_limit(uint64_t bytes) {
  g_tensor_byte_limit.store(bytes, std::memory_order_relaxed);
}

std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return std::nullopt;
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return std::nullopt;
  return a * b;
}

std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || b > std::numeric_limits<int64_t>::max() - a) return std::nullopt;
  return a + b;
}

int64_t checked_numel(std::span<const int64_t> dims, size_t element_size, ErrorCode code,
                      std::string_view what) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : dims) {
    if (d < 0) fail(code, what, ": shape ", dims_to_string(dims), " has a negative dimension");
    if (d == 0) {
      empty = true;
      continue;
    }
    std::optional<int64_t> next = checked_mul(nonzero, d);
    if (!next) {
      fail(code, what, ": shape ", dims_to_string(dims), " has more elements than fit in 64 bits");
    }
    nonzero = *next;
  }
  int64_t n = empty ? 0 : nonzero;
  checked_nbytes(n, element_size, code, what);
  return n;
}

size_t checked_nbytes(int64_t elements, size_t element_size, ErrorCode code,
                      std::string_view what) {
  std::optional<int64_t> bytes = checked_mul(elements, static_cast<int64_t>(element_size));
  if (!bytes || static_cast<uint64_t>(*bytes) > tensor_byte_limit()) {
    fail(code, what, ": ", elements, " elements of ", element_size,
         " bytes are more than the tensor size limit of ", tensor_byte_limit(), " bytes");
  }
  return static_cast<size_t>(*bytes);
}

}  // namespace kiln
