// Offset assignment for the activation arena: greedy by size with best fit (as in TFLite's
// planner, Pisarchyk & Lee 2020), which lands within a few percent of the live-bytes lower bound
// on real networks, plus the lower bound itself and an overlap check for any placement.
#include "build/arena_layout.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <queue>

namespace kiln::build {

uint64_t align_to_arena(uint64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

uint64_t live_bytes_lower_bound(const std::vector<LiveRange>& ranges) {
  // +bytes when a buffer comes alive, -bytes the step after its last use.
  std::map<int64_t, int64_t> delta;
  for (const LiveRange& r : ranges) {
    if (r.bytes == 0) continue;
    auto b = static_cast<int64_t>(align_to_arena(r.bytes));
    delta[r.first] += b;
    delta[r.last + 1] -= b;
  }
  int64_t live = 0, peak = 0;
  for (const auto& [step, d] : delta) {
    live += d;
    peak = std::max(peak, live);
  }
  return static_cast<uint64_t>(peak);
}

namespace {

bool lifetimes_overlap(const LiveRange& a, const LiveRange& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

ArenaLayout assign_offsets(const std::vector<LiveRange>& ranges) {
  ArenaLayout layout;
  layout.offsets.assign(ranges.size(), 0);
  std::vector<size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; among equals, the longest-lived first, then in program order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const LiveRange& ra = ranges[a];
    const LiveRange& rb = ranges[b];
    if (ra.bytes != rb.bytes) return ra.bytes > rb.bytes;
    return ra.last - ra.first > rb.last - rb.first;
  });
  std::vector<size_t> placed;  // kept sorted by offset
  for (size_t i : order) {
    const uint64_t size = align_to_arena(ranges[i].bytes);
    if (size == 0) continue;  // an empty buffer needs no bytes; offset 0 is as good as any
    uint64_t best_offset = 0, best_gap = UINT64_MAX, top = 0;
    for (size_t p : placed) {
      if (!lifetimes_overlap(ranges[i], ranges[p])) continue;
      uint64_t p_offset = layout.offsets[p];
      if (p_offset >= top) {
        uint64_t gap = p_offset - top;
        if (gap >= size && gap < best_gap) {
          best_gap = gap;
          best_offset = top;
        }
      }
      top = std::max(top, p_offset + align_to_arena(ranges[p].bytes));
    }
    uint64_t offset = best_gap == UINT64_MAX ? top : best_offset;
    layout.offsets[i] = offset;
    layout.size = std::max(layout.size, offset + size);
    auto at = std::upper_bound(placed.begin(), placed.end(), offset,
                               [&](uint64_t o, size_t p) { return o < layout.offsets[p]; });
    placed.insert(at, i);
  }
  return layout;
}

std::optional<std::pair<size_t, size_t>> find_overlap(const std::vector<LiveRange>& ranges,
                                                      const std::vector<uint64_t>& offsets) {
  std::vector<size_t> order;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].bytes) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ranges[a].first < ranges[b].first; });
  // The buffers alive at the current step, by offset; they never overlap each other (the sweep
  // stops at the first overlap), so a new buffer only needs checking against its two neighbours.
  std::map<uint64_t, size_t> alive;
  auto ends_first = [&](size_t a, size_t b) { return ranges[a].last > ranges[b].last; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(ends_first)> by_end(ends_first);
  auto end_of = [&](size_t i) { return offsets[i] + ranges[i].bytes; };
  for (size_t i : order) {
    while (!by_end.empty() && ranges[by_end.top()].last < ranges[i].first) {
      size_t gone = by_end.top();
      by_end.pop();
      auto it = alive.find(offsets[gone]);
      if (it != alive.end() && it->second == gone) alive.erase(it);
    }
    auto next = alive.lower_bound(offsets[i]);
    if (next != alive.end() && next->first < end_of(i)) return std::make_pair(next->second, i);
    if (next != alive.begin()) {
      auto prev = std::prev(next);
      if (end_of(prev->second) > offsets[i]) return std::make_pair(prev->second, i);
    }
    alive.emplace(offsets[i], i);
    by_end.push(i);
  }
  return std::nullopt;
}

}  // namespace kiln::build
