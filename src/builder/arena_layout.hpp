// Places buffers with known lifetimes in one arena so that buffers alive at the same time never
// overlap: the offset assignment at the heart of the memory planner, free of any graph notions.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace kiln::builder {

// Every buffer offset, and so the arena's size, is a multiple of this.
constexpr uint64_t kArenaAlignment = 64;

// A buffer of `bytes` that must stay intact from step `first` to step `last`, both included (a
// layer reads its inputs and writes its outputs in the same step, so they must not share bytes).
struct LiveRange {
  uint64_t bytes = 0;
  int64_t first = 0;
  int64_t last = 0;
};

uint64_t align_to_arena(uint64_t bytes);

// The largest total of (aligned) bytes alive at one step: no placement can use a smaller arena.
uint64_t live_bytes_lower_bound(const std::vector<LiveRange>& ranges);

struct ArenaLayout {
  std::vector<uint64_t> offsets;  // one per range, aligned
  uint64_t size = 0;              // bytes the arena needs (aligned)
};

// Greedy with best fit: buffers are placed one by one, each in the smallest gap left between
// already placed buffers whose lifetimes overlap its own, or above them all; in three orders
// (largest first; largest bytes x lifetime first; busiest steps first), keeping the smallest.
ArenaLayout assign_offsets(const std::vector<LiveRange>& ranges);

// The first pair of ranges (indices) that are alive at the same step and share bytes, if any.
// Empty buffers share nothing. Runs in O(n log n), so it can check untrusted plans.
std::optional<std::pair<size_t, size_t>> find_overlap(const std::vector<LiveRange>& ranges,
                                                      const std::vector<uint64_t>& offsets);

}  // namespace kiln::builder
