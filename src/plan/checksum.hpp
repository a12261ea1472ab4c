// XXH64, the 64-bit xxHash: the plan file's checksum. Fast enough (several GB/s) to verify the
// whole file on every load, and strong enough to catch any flipped byte or truncation.
#pragma once

#include <cstdint>
#include <span>

namespace kiln::plan {

uint64_t xxhash64(std::span<const uint8_t> data, uint64_t seed = 0);

}  // namespace kiln::plan
