// The fixed 128-byte header at the start of every plan file, and the checksum that seals the file.
// All fields are little-endian. Layout (byte offsets):
//   0 magic "KILNPLAN"      8 format version (u32)   12 header size (u32)
//  16 kiln version, 32 bytes NUL-padded              48 backend (u8), 49..51 zero
//  52 flags (u32)          56 metadata offset (u64)  64 metadata size (u64)
//  72 weights offset (u64) 80 weights size (u64)     88 file size (u64)
//  96..119 zero           120 checksum (u64)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::plan {

inline constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kHeaderSize = 128;
inline constexpr size_t kVersionFieldSize = 32;
inline constexpr size_t kChecksumOffset = 120;
// The weights section starts on a page so a mapped file's constants are page-aligned, and every
// tensor in it on a cache line so kernels get aligned loads.
inline constexpr uint64_t kWeightsSectionAlignment = 4096;
inline constexpr uint64_t kTensorAlignment = 64;

struct PlanHeader {
  uint32_t format_version = kFormatVersion;
  uint32_t header_size = kHeaderSize;
  std::string kiln_version;
  uint8_t backend = 0;
  uint32_t flags = 0;  // no flags are defined yet; readers refuse unknown ones
  uint64_t metadata_offset = 0;
  uint64_t metadata_size = 0;
  uint64_t weights_offset = 0;
  uint64_t weights_size = 0;
  uint64_t file_size = 0;
  uint64_t checksum = 0;
};

// Writes `h` into the first kHeaderSize bytes of `out` (checksum field included as given).
void encode_header(const PlanHeader& h, std::span<uint8_t> out);
// Reads the fields back; `bytes` must hold at least kHeaderSize bytes. The magic is not checked
// here (the caller names the file in that error).
PlanHeader decode_header(std::span<const uint8_t> bytes);
bool has_magic(std::span<const uint8_t> bytes);

// The checksum of a whole plan file: XXH64 of everything after the header, seeded with XXH64 of
// the header up to the checksum field, so no byte of the file is left uncovered.
uint64_t compute_checksum(std::span<const uint8_t> file);
// Recomputes and stores the checksum of a complete plan in memory (after editing it).
void seal(std::vector<uint8_t>& file);

}  // namespace kiln::plan
