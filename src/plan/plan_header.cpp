// Little-endian encoding of the plan header, byte by byte so host layout never leaks in.
#include "plan/plan_header.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "plan/checksum.hpp"

namespace kiln::plan {
namespace {

template <typename T>
void put(std::span<uint8_t> out, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

template <typename T>
T get(std::span<const uint8_t> in, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(in[at + i]) << (8 * i);
  return v;
}

}  // namespace

void encode_header(const PlanHeader& h, std::span<uint8_t> out) {
  if (out.size() < kHeaderSize || h.kiln_version.size() >= kVersionFieldSize) {
    fail(ErrorCode::kInternal, "plan header does not fit");
  }
  std::fill(out.begin(), out.begin() + kHeaderSize, uint8_t{0});
  std::memcpy(out.data(), kMagic, sizeof(kMagic));
  put<uint32_t>(out, 8, h.format_version);
  put<uint32_t>(out, 12, h.header_size);
  std::memcpy(out.data() + 16, h.kiln_version.data(), h.kiln_version.size());
  put<uint8_t>(out, 48, h.backend);
  put<uint32_t>(out, 52, h.flags);
  put<uint64_t>(out, 56, h.metadata_offset);
  put<uint64_t>(out, 64, h.metadata_size);
  put<uint64_t>(out, 72, h.weights_offset);
  put<uint64_t>(out, 80, h.weights_size);
  put<uint64_t>(out, 88, h.file_size);
  put<uint64_t>(out, kChecksumOffset, h.checksum);
}

bool has_magic(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0;
}

PlanHeader decode_header(std::span<const uint8_t> bytes) {
  PlanHeader h;
  h.format_version = get<uint32_t>(bytes, 8);
  h.header_size = get<uint32_t>(bytes, 12);
  const char* version = reinterpret_cast<const char*>(bytes.data() + 16);
  h.kiln_version.assign(version, strnlen(version, kVersionFieldSize));
  h.backend = get<uint8_t>(bytes, 48);
  h.flags = get<uint32_t>(bytes, 52);
  h.metadata_offset = get<uint64_t>(bytes, 56);
  h.metadata_size = get<uint64_t>(bytes, 64);
  h.weights_offset = get<uint64_t>(bytes, 72);
  h.weights_size = get<uint64_t>(bytes, 80);
  h.file_size = get<uint64_t>(bytes, 88);
  h.checksum = get<uint64_t>(bytes, kChecksumOffset);
  return h;
}

uint64_t compute_checksum(std::span<const uint8_t> file) {
  uint64_t seed = xxhash64(file.first(kChecksumOffset));
  return xxhash64(file.subspan(kHeaderSize), seed);
}

void seal(std::vector<uint8_t>& file) {
  if (file.size() < kHeaderSize) fail(ErrorCode::kInternal, "cannot seal a plan without header");
  put<uint64_t>(file, kChecksumOffset, compute_checksum(file));
}

}  // namespace kiln::plan
