// Offset assignment for the activation arena: greedy by size, by area and by breadth, all with best
// fit (as in TFLite's planner, Pisarchyk & Lee 2020), keeping the smaller arena; they land within
// a few percent of the live-bytes lower bound on real networks. Also the lower bound itself and
// an overlap check for any placement.
#include "builder/arena_layout.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <queue>
#include <set>

namespace kiln::builder {

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

// Overlapping lifetimes, listed per buffer, when there are few enough pairs to list (real
// networks: each buffer overlaps a handful of others); nullopt when more than `budget` pairs
// overlap (a fan of many tensors all alive at once).
std::optional<std::vector<std::vector<uint32_t>>> overlapping_pairs(
    const std::vector<LiveRange>& ranges, uint64_t budget) {
  std::vector<size_t> by_first;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].bytes) by_first.push_back(i);
  }
  std::stable_sort(by_first.begin(), by_first.end(),
                   [&](size_t a, size_t b) { return ranges[a].first < ranges[b].first; });
  // Buffer k (in order of first step) overlaps each later-starting one that starts before its end.
  std::vector<int64_t> firsts;
  for (size_t i : by_first) firsts.push_back(ranges[i].first);
  uint64_t pairs = 0;
  for (size_t k = 0; k < by_first.size(); ++k) {
    auto end = static_cast<size_t>(
        std::upper_bound(firsts.begin(), firsts.end(), ranges[by_first[k]].last) - firsts.begin());
    pairs += end > k + 1 ? end - (k + 1) : 0;
    if (pairs > budget) return std::nullopt;
  }
  std::vector<std::vector<uint32_t>> overlaps(ranges.size());
  for (size_t k = 0; k < by_first.size(); ++k) {
    const LiveRange& a = ranges[by_first[k]];
    for (size_t j = k + 1; j < by_first.size() && firsts[j] <= a.last; ++j) {
      if (a.first > ranges[by_first[j]].last) continue;
      overlaps[by_first[k]].push_back(static_cast<uint32_t>(by_first[j]));
      overlaps[by_first[j]].push_back(static_cast<uint32_t>(by_first[k]));
    }
  }
  return overlaps;
}

// Places buffers one by one in `order`, each in the smallest gap (best fit) between already placed
// buffers whose lifetimes overlap its own, or above them all. Only those buffers matter, so each
// step looks at its own list of them, in offset order.
ArenaLayout place_in_order(const std::vector<LiveRange>& ranges, const std::vector<size_t>& order,
                           const std::vector<std::vector<uint32_t>>& overlaps) {
  ArenaLayout layout;
  layout.offsets.assign(ranges.size(), 0);
  std::vector<bool> is_placed(ranges.size(), false);
  std::vector<uint32_t> placed;  // of those overlapping the buffer being placed
  for (size_t i : order) {
    const uint64_t size = align_to_arena(ranges[i].bytes);
    if (size == 0) continue;  // an empty buffer needs no bytes; offset 0 is as good as any
    placed.clear();
    for (uint32_t p : overlaps[i]) {
      if (is_placed[p]) placed.push_back(p);
    }
    // By offset. (The order among equal offsets changes nothing: only the first of them can
    // end a gap, and the top is their largest end whatever the order.)
    std::sort(placed.begin(), placed.end(),
              [&](uint32_t a, uint32_t b) { return layout.offsets[a] < layout.offsets[b]; });
    uint64_t best_offset = 0, best_gap = UINT64_MAX, top = 0;
    for (uint32_t p : placed) {
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
    is_placed[i] = true;
  }
  return layout;
}

// For many buffers alive at once (more overlapping pairs than place_in_order may visit): buffers
// in order of their first step, largest first among equals; at each step the bytes of buffers
// that died are freed (merged with free neighbours), then each new buffer takes the smallest free
// block that fits (lowest offset among equals), or grows the arena from its top. O(n log n).
ArenaLayout place_by_first_step(const std::vector<LiveRange>& ranges) {
  ArenaLayout layout;
  layout.offsets.assign(ranges.size(), 0);
  std::vector<size_t> order;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].bytes) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ranges[a].first != ranges[b].first) return ranges[a].first < ranges[b].first;
    return ranges[a].bytes > ranges[b].bytes;
  });
  std::map<uint64_t, uint64_t> free_at;                  // offset -> size
  std::set<std::pair<uint64_t, uint64_t>> free_by_size;  // (size, offset)
  auto take = [&](std::map<uint64_t, uint64_t>::iterator block) {
    free_by_size.erase({block->second, block->first});
    free_at.erase(block);
  };
  auto give = [&](uint64_t offset, uint64_t size) {
    auto next = free_at.lower_bound(offset);
    if (next != free_at.end() && next->first == offset + size) {
      size += next->second;
      take(next);
    }
    auto after = free_at.lower_bound(offset);
    if (after != free_at.begin()) {
      auto prev = std::prev(after);
      if (prev->first + prev->second == offset) {
        offset = prev->first;
        size += prev->second;
        take(prev);
      }
    }
    free_at.emplace(offset, size);
    free_by_size.emplace(size, offset);
  };
  auto ends_first = [&](size_t a, size_t b) { return ranges[a].last > ranges[b].last; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(ends_first)> alive(ends_first);
  uint64_t top = 0;
  for (size_t i : order) {
    while (!alive.empty() && ranges[alive.top()].last < ranges[i].first) {
      size_t gone = alive.top();
      alive.pop();
      give(layout.offsets[gone], align_to_arena(ranges[gone].bytes));
    }
    const uint64_t size = align_to_arena(ranges[i].bytes);
    uint64_t offset = top;
    auto fit = free_by_size.lower_bound({size, 0});
    if (fit != free_by_size.end()) {
      offset = fit->second;
      uint64_t block = fit->first;
      take(free_at.find(offset));
      if (block > size) give(offset + size, block - size);
    } else if (!free_at.empty()) {
      // The free block at the top of the arena, if any, is where the arena grows from.
      auto last = std::prev(free_at.end());
      if (last->first + last->second == top) {
        offset = last->first;
        take(last);
      }
    }
    layout.offsets[i] = offset;
    top = std::max(top, offset + size);
    alive.push(i);
  }
  layout.size = top;
  return layout;
}

// Greedy by breadth: the steps with the most live bytes first, and at each step its buffers,
// largest first. It packs the peak steps tightly, where greedy by size can leave a hole.
std::vector<size_t> breadth_order(const std::vector<LiveRange>& ranges) {
  // Live bytes at each step where a buffer starts, by a sweep over starts and ends.
  std::map<int64_t, int64_t> delta;
  for (const LiveRange& r : ranges) {
    delta[r.first] += 0;
    auto b = static_cast<int64_t>(align_to_arena(r.bytes));
    if (r.first > r.last) continue;  // alive at no step
    delta[r.first] += b;
    delta[r.last + 1] -= b;
  }
  std::set<int64_t> starts;
  for (const LiveRange& r : ranges) starts.insert(r.first);
  std::vector<std::pair<int64_t, uint64_t>> steps;
  int64_t live = 0;
  for (const auto& [step, d] : delta) {
    live += d;
    if (starts.count(step)) steps.emplace_back(step, static_cast<uint64_t>(live));
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<size_t> by_size(ranges.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](size_t a, size_t b) { return ranges[a].bytes > ranges[b].bytes; });
  std::vector<size_t> size_rank(ranges.size());
  for (size_t k = 0; k < by_size.size(); ++k) size_rank[by_size[k]] = k;
  // Each buffer is filed under the start steps its lifetime covers as O(log) segments of a tree
  // over them; the buffers alive at a step are those filed on its leaf-to-root path, all taken
  // there, so each list is visited once.
  std::vector<int64_t> points(starts.begin(), starts.end());
  size_t leaves = 1;
  while (leaves < points.size()) leaves *= 2;
  std::vector<std::vector<size_t>> filed(2 * leaves);
  for (size_t i : by_size) {
    size_t lo = static_cast<size_t>(
        std::lower_bound(points.begin(), points.end(), ranges[i].first) - points.begin());
    size_t hi = static_cast<size_t>(std::upper_bound(points.begin(), points.end(), ranges[i].last) -
                                    points.begin());
    for (lo += leaves, hi += leaves; lo < hi; lo /= 2, hi /= 2) {
      if (lo & 1) filed[lo++].push_back(i);
      if (hi & 1) filed[--hi].push_back(i);
    }
  }
  std::vector<size_t> order;
  std::vector<bool> taken(ranges.size(), false);
  std::vector<size_t> here;
  for (const auto& [step, bytes] : steps) {
    here.clear();
    size_t leaf =
        static_cast<size_t>(std::lower_bound(points.begin(), points.end(), step) - points.begin()) +
        leaves;
    for (size_t node = leaf; node > 0; node /= 2) {
      for (size_t i : filed[node]) {
        if (!taken[i]) {
          taken[i] = true;
          here.push_back(i);
        }
      }
      filed[node].clear();
    }
    std::sort(here.begin(), here.end(),
              [&](size_t a, size_t b) { return size_rank[a] < size_rank[b]; });
    order.insert(order.end(), here.begin(), here.end());
  }
  return order;
}

}  // namespace

ArenaLayout assign_offsets(const std::vector<LiveRange>& ranges) {
  // Best fit visits, for each buffer, every placed buffer alive at the same time: a few each in
  // real networks, but all of them when thousands of tensors live at once. Past a budget of such
  // pairs the buffers are placed in one sweep over their first steps instead.
  constexpr uint64_t kMaxOverlappingPairs = uint64_t{4} << 20;
  std::optional<std::vector<std::vector<uint32_t>>> overlaps =
      overlapping_pairs(ranges, kMaxOverlappingPairs);
  if (!overlaps) return place_by_first_step(ranges);
  // Greedy by size: largest first; among equals, the longest-lived first, then in program order.
  std::vector<size_t> by_size(ranges.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    const LiveRange& ra = ranges[a];
    const LiveRange& rb = ranges[b];
    if (ra.bytes != rb.bytes) return ra.bytes > rb.bytes;
    return ra.last - ra.first > rb.last - rb.first;
  });
  ArenaLayout best = place_in_order(ranges, by_size, *overlaps);
  // By area (bytes times steps alive): long-lived tensors (residual streams, skips) go first, so
  // the short-lived ones pack around them.
  std::vector<size_t> by_area = by_size;
  auto area = [&](size_t i) {
    return static_cast<double>(ranges[i].bytes) *
           static_cast<double>(ranges[i].last - ranges[i].first + 1);
  };
  std::stable_sort(by_area.begin(), by_area.end(),
                   [&](size_t a, size_t b) { return area(a) > area(b); });
  ArenaLayout by_area_layout = place_in_order(ranges, by_area, *overlaps);
  if (by_area_layout.size < best.size) best = std::move(by_area_layout);
  // No heuristic wins everywhere; each is cheap next to building an engine, so keep the smallest
  // arena.
  if (ranges.size() <= 20000) {
    ArenaLayout breadth = place_in_order(ranges, breadth_order(ranges), *overlaps);
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

}  // namespace kiln::builder
