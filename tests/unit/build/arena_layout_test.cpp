// Arena offset assignment: never overlaps live buffers (checked by brute force on random
// lifetimes), agrees with the fast overlap check, and stays within 1.1x of the live-bytes lower
// bound on the lifetime patterns of real networks: chains, residual diamonds, U-Nets, attention.
#include "build/arena_layout.hpp"

#include <gtest/gtest.h>

#include <random>

namespace kiln::build {
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

}  // namespace
}  // namespace kiln::build
