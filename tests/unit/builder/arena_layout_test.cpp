// Arena offset assignment: never overlaps live buffers (checked by brute force on random
// lifetimes), agrees with the fast overlap check, and stays within 1.1x of the live-bytes lower
// bound on the lifetime patterns of real networks: chains, residual diamonds, U-Nets, attention.
#include "builder/arena_layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace kiln::builder {
namespace {

// Every pair, the obvious way.
bool brute_force_overlap(const std::vector<LiveRange>& r, const std::vector<uint64_t>& off) {
  for (size_t a = 0; a < r.size(); ++a) {
    for (size_t b = a + 1; b < r.size(); ++b) {
      if (!r[a].bytes || !r[b].bytes) continue;
      bool same_time = r[a].first <= r[b].last && r[b].first <= r[a].last;
      bool same_bytes = off[a] < off[b] + r[b].bytes && off[b] < off[a] + r[a].bytes;
      if (same_time && same_bytes) return true;
    }
  }
  return false;
}

std::vector<LiveRange> random_ranges(std::mt19937& rng, int n, int steps) {
  std::uniform_int_distribution<int> step(0, steps - 1), len(0, 6), big(0, 9);
  std::uniform_int_distribution<uint64_t> bytes(0, 5000);
  std::vector<LiveRange> r;
  for (int i = 0; i < n; ++i) {
    int64_t first = step(rng);
    int64_t last = big(rng) == 0 ? steps : first + len(rng);  // a few live long
    r.push_back({bytes(rng) * (big(rng) == 0 ? 100 : 1), first, last});
  }
  return r;
}

TEST(ArenaLayout, LowerBoundIsPeakOfAlignedLiveBytes) {
  std::vector<LiveRange> r = {{100, 0, 1}, {64, 1, 2}, {1, 2, 2}, {0, 0, 5}};
  // step 1: 128 + 64; step 2: 64 + 64.
  EXPECT_EQ(live_bytes_lower_bound(r), 192u);
  EXPECT_EQ(live_bytes_lower_bound({}), 0u);
}

TEST(ArenaLayout, RandomLifetimesNeverOverlapAndOffsetsAreAligned) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    auto r = random_ranges(rng, 1 + trial % 60, 40);
    ArenaLayout layout = assign_offsets(r);
    ASSERT_FALSE(brute_force_overlap(r, layout.offsets)) << "trial " << trial;
    EXPECT_FALSE(find_overlap(r, layout.offsets)) << "trial " << trial;
    EXPECT_GE(layout.size, live_bytes_lower_bound(r));
    for (size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(layout.offsets[i] % kArenaAlignment, 0u);
      EXPECT_LE(layout.offsets[i] + r[i].bytes, layout.size);
    }
  }
}

TEST(ArenaLayout, FindOverlapAgreesWithBruteForceOnArbitraryPlacements) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint64_t> offset(0, 200);
  int overlapping = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    auto r = random_ranges(rng, 1 + trial % 12, 10);
    for (auto& x : r) x.bytes /= 40;
    std::vector<uint64_t> off;
    for (size_t i = 0; i < r.size(); ++i) off.push_back(offset(rng));
    bool expected = brute_force_overlap(r, off);
    auto found = find_overlap(r, off);
    ASSERT_EQ(found.has_value(), expected) << "trial " << trial;
    if (found) {
      // The pair it names does overlap.
      ASSERT_TRUE(brute_force_overlap({r[found->first], r[found->second]},
                                      {off[found->first], off[found->second]}));
      ++overlapping;
    }
  }
  EXPECT_GT(overlapping, 100);  // both answers were exercised
}

double ratio(const std::vector<LiveRange>& r) {
  ArenaLayout layout = assign_offsets(r);
  EXPECT_FALSE(brute_force_overlap(r, layout.offsets));
  return static_cast<double>(layout.size) / static_cast<double>(live_bytes_lower_bound(r));
}

// A plain chain (VGG): layer i's output is read by layer i + 1 only.
TEST(ArenaLayout, ChainWithinTenPercentOfLowerBound) {
  std::vector<LiveRange> r;
  uint64_t sizes[] = {3 << 20, 12 << 20, 12 << 20, 6 << 20, 6 << 20, 3 << 20, 3 << 20, 1 << 20};
  for (int i = 0; i < 40; ++i) r.push_back({sizes[(i / 3) % 8] + 4096u * i, i, i + 1});
  EXPECT_LE(ratio(r), 1.1);
}

// Residual blocks (ResNet): x -> conv -> conv -> add(x, .), so x lives across the block.
TEST(ArenaLayout, ResidualDiamondsWithinTenPercentOfLowerBound) {
  std::vector<LiveRange> r;
  int64_t step = 0;
  uint64_t size = 8 << 20;
  for (int stage = 0; stage < 4; ++stage) {
    for (int block = 0; block < 4; ++block) {
      int64_t x = step;
      r.push_back({size, step + 1, step + 2});      // conv a
      r.push_back({size / 4, step + 2, step + 3});  // conv b (bottleneck)
      r.push_back({size, step + 3, step + 4});      // conv c
      r.push_back({size, x, step + 4});             // the block input, read by the add
      step += 4;
    }
    size /= 2;
  }
  EXPECT_LE(ratio(r), 1.1);
}

// U-Net: encoder outputs are kept for the decoder's skip connections, innermost first.
TEST(ArenaLayout, UNetWithinTenPercentOfLowerBound) {
  std::vector<LiveRange> r;
  const int levels = 5;
  uint64_t size = 16 << 20;
  int64_t total_steps = 4 * levels + 2;
  std::vector<std::pair<int64_t, uint64_t>> skips;
  int64_t step = 0;
  for (int l = 0; l < levels; ++l) {
    r.push_back({size, step, step + 1});          // conv
    skips.emplace_back(step + 1, size);           // second conv: kept for the decoder
    r.push_back({size / 4, step + 2, step + 3});  // pooled
    step += 3;
    size /= 4;
  }
  r.push_back({size, step, step + 1});  // bottleneck
  step += 1;
  for (int l = levels - 1; l >= 0; --l) {
    auto [made, skip_size] = skips[static_cast<size_t>(l)];
    r.push_back({skip_size, step, step + 1});          // upsampled
    r.push_back({skip_size, made, step + 1});          // the skip, read by the concat
    r.push_back({2 * skip_size, step + 1, step + 2});  // concat
    r.push_back({skip_size, step + 2, step + 3});      // conv
    step += 3;
  }
  (void)total_steps;
  EXPECT_LE(ratio(r), 1.1);
}

// Transformer layers: the residual stream lives across attention, whose scores are largest.
TEST(ArenaLayout, TransformerWithinTenPercentOfLowerBound) {
  std::vector<LiveRange> r;
  const uint64_t h = 128 * 768 * 4, scores = 12 * 128 * 128 * 4, ffn = 4 * h;
  int64_t step = 0;
  for (int layer = 0; layer < 12; ++layer) {
    int64_t x = step;
    r.push_back({h, step + 1, step + 4});  // q
    r.push_back({h, step + 2, step + 5});  // k
    r.push_back({h, step + 3, step + 6});  // v
    r.push_back({scores, step + 4, step + 5});
    r.push_back({scores, step + 5, step + 6});  // softmax
    r.push_back({h, step + 6, step + 7});       // context
    r.push_back({h, step + 7, step + 8});       // projection
    r.push_back({h, x, step + 8});              // residual stream into the add
    r.push_back({h, step + 8, step + 11});      // after add + norm, into the second add
    r.push_back({ffn, step + 9, step + 10});
    r.push_back({ffn, step + 10, step + 11});
    step += 11;
  }
  EXPECT_LE(ratio(r), 1.1);
}

// The placement as first written: every placed buffer is scanned for each new one (quadratic), and
// the breadth order walks every step's buffers. The faster placement must give the same offsets
// wherever it uses the same heuristics (all but very wide fans of simultaneously live buffers).
ArenaLayout reference_place(const std::vector<LiveRange>& ranges,
                            const std::vector<size_t>& order) {
  ArenaLayout layout;
  layout.offsets.assign(ranges.size(), 0);
  std::vector<size_t> placed;
  for (size_t i : order) {
    const uint64_t size = align_to_arena(ranges[i].bytes);
    if (size == 0) continue;
    uint64_t best_offset = 0, best_gap = UINT64_MAX, top = 0;
    for (size_t p : placed) {
      if (!(ranges[i].first <= ranges[p].last && ranges[p].first <= ranges[i].last)) continue;
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

ArenaLayout reference_assign_offsets(const std::vector<LiveRange>& ranges) {
  std::vector<size_t> by_size(ranges.size());
  std::iota(by_size.begin(), by_size.end(), 0);
  std::stable_sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) {
    if (ranges[a].bytes != ranges[b].bytes) return ranges[a].bytes > ranges[b].bytes;
    return ranges[a].last - ranges[a].first > ranges[b].last - ranges[b].first;
  });
  ArenaLayout best = reference_place(ranges, by_size);
  std::vector<size_t> by_area = by_size;
  auto area = [&](size_t i) {
    return static_cast<double>(ranges[i].bytes) *
           static_cast<double>(ranges[i].last - ranges[i].first + 1);
  };
  std::stable_sort(by_area.begin(), by_area.end(),
                   [&](size_t a, size_t b) { return area(a) > area(b); });
  ArenaLayout by_area_layout = reference_place(ranges, by_area);
  if (by_area_layout.size < best.size) best = std::move(by_area_layout);
  std::map<int64_t, uint64_t> live;
  for (const LiveRange& r : ranges) live[r.first] = 0;
  for (const LiveRange& r : ranges) {
    for (auto it = live.lower_bound(r.first); it != live.end() && it->first <= r.last; ++it) {
      it->second += align_to_arena(r.bytes);
    }
  }
  std::vector<std::pair<int64_t, uint64_t>> steps(live.begin(), live.end());
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
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
  ArenaLayout breadth = reference_place(ranges, order);
  if (breadth.size < best.size) best = std::move(breadth);
  return best;
}

TEST(ArenaLayout, SameOffsetsAsTheQuadraticPlacement) {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 400; ++trial) {
    auto r = random_ranges(rng, 1 + trial % 80, 5 + trial % 50);
    if (trial % 7 == 0) r.push_back({128, 9, 3});  // a lifetime that ends before it starts
    ArenaLayout want = reference_assign_offsets(r);
    ArenaLayout got = assign_offsets(r);
    ASSERT_EQ(got.size, want.size) << "trial " << trial;
    ASSERT_EQ(got.offsets, want.offsets) << "trial " << trial;
  }
}

// Thousands of tensors alive at once (a layer whose output many layers read, all kept to the
// end): more overlapping pairs than best fit visits, so one sweep over the steps places them.
TEST(ArenaLayout, WideFanIsPlacedInOneSweepWithoutOverlap) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint64_t> bytes(1, 5000);
  std::vector<LiveRange> r;
  const int64_t n = 4000;
  for (int64_t i = 0; i < n; ++i) r.push_back({bytes(rng), i, n});  // all read by the last layer
  for (int64_t i = 0; i < n; ++i) r.push_back({bytes(rng), n + i, n + i + 1});  // then a chain
  ArenaLayout layout = assign_offsets(r);
  EXPECT_FALSE(find_overlap(r, layout.offsets));
  uint64_t all = 0;
  for (int64_t i = 0; i < n; ++i) all += align_to_arena(r[static_cast<size_t>(i)].bytes);
  EXPECT_EQ(layout.size, live_bytes_lower_bound(r));  // stacked, and the chain reuses their bytes
  EXPECT_GE(layout.size, all);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(layout.offsets[i] % kArenaAlignment, 0u);
}

TEST(ArenaLayout, RandomWideLifetimesPlacedInOneSweepNeverOverlap) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 5; ++trial) {
    auto r = random_ranges(rng, 5000, 20);  // millions of overlapping pairs: past the budget
    ArenaLayout layout = assign_offsets(r);
    EXPECT_FALSE(find_overlap(r, layout.offsets)) << "trial " << trial;
    EXPECT_GE(layout.size, live_bytes_lower_bound(r));
    for (size_t i = 0; i < r.size(); ++i) EXPECT_LE(layout.offsets[i] + r[i].bytes, layout.size);
  }
}

// A chain of 200,000 layers: best fit looks only at the few buffers alive beside each one.
TEST(ArenaLayout, LongChainPlacesQuickly) {
  std::vector<LiveRange> r;
  for (int64_t i = 0; i < 200000; ++i)
    r.push_back({static_cast<uint64_t>(64 * (1 + i % 5)), i, i + 1});
  ArenaLayout layout = assign_offsets(r);
  EXPECT_FALSE(find_overlap(r, layout.offsets));
  EXPECT_LE(layout.size, 2 * live_bytes_lower_bound(r));
}

}  // namespace
}  // namespace kiln::builder
