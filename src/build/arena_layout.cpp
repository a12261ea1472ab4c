// Offset assignment for the activation arena: greedy by size, by area and by breadth, all with best
// fit (as in TFLite's planner, Pisarchyk & Lee 2020), keeping the smaller arena; they land within
// a few percent of the live-bytes lower bound on real networks. Also the lower bound itself and
// an overlap check for any placement.
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

namespace {

// Places buffers one by one in `order`, each in the smallest gap (best fit) between already placed
// buffers whose lifetimes overlap its own, or above them all.
ArenaLayout place_in_order(const std::vector<LiveRange>& ranges, const std::vector<size_t>& order) {
  ArenaLayout layout;
  layout.offsets.assign(ranges.size(), 0);
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

// Greedy by breadth: the steps with the most live bytes first, and at each step its buffers,
// largest first. It packs the peak steps tightly, where greedy by size can leave a hole.
std::vector<size_t> breadth_order(const std::vector<LiveRange>& ranges) {
  std::map<int64_t, uint64_t> live;  // step -> live bytes, at steps where a buffer starts
  for (const LiveRange& r : ranges) live[r.first] = 0;
  for (const LiveRange& r : ranges) {
    for (auto it = live.lower_bound(r.first); it != live.end() && it->first <= r.last; ++it) {
      it->second += align_to_arena(r.bytes);
    }
  }
  std::vector<std::pair<int64_t, uint64_t>> steps(live.begin(), live.end());
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<size_t> by_size(ranges.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t a, size_t b) { return ranges[a].bytes > ranges[b].bytes; });
  std::vector<size_t> order;
  std::vector<bool> taken(ranges.size(), false);
  for (const auto& [step, bytes] : steps) {
    for (size_t i : by_size) {
      if (!taken[i] && ranges[i].first <= step && step <= ranges[i].last) {
        taken[i] = true;
        order.push_back(i);
      }
    }
  }
  return order;
}

}  // namespace

ArenaLayout assign_offsets(const std::vector<LiveRange>& ranges) {
  // Greedy by size: largest first; among equals, the longest-lived first, then in program order.
  std::vector<size_t> by_size(ranges.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    const LiveRange& ra = ranges[a];
    const LiveRange& rb = ranges[b];
    if (ra.bytes != rb.bytes) return ra.bytes > rb.bytes;
    return ra.last - ra.first > rb.last - rb.first;
  });
  ArenaLayout best = place_in_order(ranges, by_size);
  // By area (bytes times steps alive): long-lived tensors (residual streams, skips) go first, so
  // the short-lived ones pack around them.
  std::vector<size_t> by_area = by_size;
  auto area = [&](size_t i) {
    return static_cast<double>(ranges[i].bytes) *
           static_cast<double>(ranges[i].last - ranges[i].first + 1);
  };
  std::stable_sort(by_area.begin(), by_area.end(),
                   [&](size_t a, size_t b) { return area(a) > area(b); });
  ArenaLayout by_area_layout = place_in_order(ranges, by_area);
  if (by_area_layout.size < best.size) best = std::move(by_area_layout);
  // No heuristic wins everywhere; each is cheap next to building an engine, so keep the smallest
  // arena. Breadth order is quadratic in the number of steps too, so only up to a size.
  if (ranges.size() <= 20000) {
    ArenaLayout breadth = place_in_order(ranges, breadth_order(ranges));
    if (breadth.size < best.size) best = std::move(breadth);
  }
  return best;
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
