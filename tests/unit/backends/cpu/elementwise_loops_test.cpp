// Broadcast plans and the broadcasting binary map, checked against a naive N-d walk over many
// shape pairs, including outputs big enough to take the multithreaded path.
#include "backends/cpu/elementwise_loops.hpp"

#include <gtest/gtest.h>

#include "backends/cpu/broadcast.hpp"

namespace kiln::cpu {
namespace {

TEST(BroadcastPlan, MergesDimsContiguousForEveryOperand) {
  // [2,3,4] + [4]: the outer [2,3] merges into 6 rows; b repeats along rows (outer stride 0).
  BroadcastPlan p({2, 3, 4}, {{2, 3, 4}, {4}, {2, 3, 4}});
  EXPECT_EQ(p.rows, 6);
  EXPECT_EQ(p.inner, 4);
  EXPECT_EQ(p.outer_shape, Shape({6}));
  EXPECT_EQ(p.inner_stride, std::vector<int64_t>({1, 1, 1}));
  EXPECT_EQ(p.outer_strides[1], std::vector<int64_t>({0}));
}

TEST(BroadcastPlan, KeepsBroadcastInnerDimSeparate) {
  // [3,1] against [3,5]: a is constant along each row.
  BroadcastPlan p({3, 5}, {{3, 1}, {3, 5}});
  EXPECT_EQ(p.rows, 3);
  EXPECT_EQ(p.inner, 5);
  EXPECT_EQ(p.inner_stride, std::vector<int64_t>({0, 1}));
  EXPECT_EQ(p.outer_strides[0], std::vector<int64_t>({1}));
}

TEST(BroadcastPlan, DropsSizeOneDims) {
  BroadcastPlan p({1, 4, 1}, {{1, 4, 1}, {1}});
  EXPECT_EQ(p.rows, 1);
  EXPECT_EQ(p.inner, 4);
  EXPECT_EQ(p.inner_stride, std::vector<int64_t>({1, 0}));
}

std::vector<float> iota(int64_t n, float start) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return v;
}

Shape broadcast_of(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    size_t k = out.size() - 1 - i;
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    out[k] = da == 1 ? db : da;
  }
  return out;
}

TEST(MapBinary, MatchesNaiveWalkOverManyShapes) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{}, {}},
      {{5}, {}},
      {{}, {5}},
      {{2, 3}, {2, 3}},
      {{2, 3}, {3}},
      {{2, 3}, {2, 1}},
      {{1, 3}, {2, 1}},
      {{4, 1, 6}, {1, 5, 1}},
      {{2, 1, 3, 1}, {1, 4, 1, 5}},
      {{3, 4, 5}, {4, 1}},
      {{0, 3}, {3}},
      // Large enough for the threaded paths (row split and flat split).
      {{64, 33, 17}, {33, 1}},
      {{257, 300}, {257, 300}},
      {{300, 257}, {1}},
      {{2, 70000}, {2, 1}},
  };
  for (const auto& [as, bs] : cases) {
    Shape os = broadcast_of(as, bs);
    auto a = iota(shape_numel(as), 1.0f);
    auto b = iota(shape_numel(bs), 1000.0f);
    std::vector<float> out(static_cast<size_t>(shape_numel(os)), -1.0f);
    map_binary(a.data(), as, b.data(), bs, out.data(), os,
               [](float x, float y) { return x * 3.0f + y; });
    std::vector<float> want;
    for (StridedWalk w(os, {broadcast_strides(as, os), broadcast_strides(bs, os)}); !w.done();
         w.next()) {
      want.push_back(a[static_cast<size_t>(w.offset(0))] * 3.0f +
                     b[static_cast<size_t>(w.offset(1))]);
    }
    ASSERT_EQ(out, want) << shape_to_string(as) << " with " << shape_to_string(bs);
  }
}

TEST(MapUnary, ConvertsThroughComputeTypeAndRoundsOnce) {
  std::vector<Half> x = {Half(1.0f), Half(2.0f)};
  std::vector<Half> y(2);
  // 1/3 computed in float and rounded once to half.
  map_unary(x.data(), y.data(), 2, [](float v) { return v / 3.0f; });
  EXPECT_EQ(y[0].bits, Half(1.0f / 3.0f).bits);
  EXPECT_EQ(y[1].bits, Half(2.0f / 3.0f).bits);
}

}  // namespace
}  // namespace kiln::cpu
