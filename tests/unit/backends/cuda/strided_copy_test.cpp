// Host-side checks of the data-movement planning: which kernel each strided copy gets, the vector
// width chosen for row copies, the row grid, and the exactness of the fast 32-bit division.
#include <gtest/gtest.h>

#include <random>

#include "backends/cuda/int_divider.cuh"
#include "backends/cuda/row_copy.cuh"
#include "backends/cuda/strided_copy.cuh"

namespace kiln::cuda {
namespace {

// The copy a Transpose of a contiguous `in` by `perm` plans (as shape.cu does).
StridedCopy transpose_copy(const Shape& in, const std::vector<int64_t>& perm) {
  std::vector<int64_t> in_strides = contiguous_strides(in), src(in.size());
  Shape out(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    src[d] = in_strides[static_cast<size_t>(perm[d])];
    out[d] = in[static_cast<size_t>(perm[d])];
  }
  StridedCopy c;
  c.layout = make_strided_layout<2>(out, {src, contiguous_strides(out)});
  c.count = shape_numel(out);
  return c;
}

TEST(StridedCopyPlan, PicksThePathByWhatTheInnermostAxisDoes) {
  EXPECT_EQ(strided_copy_path(transpose_copy({64, 128, 12, 64}, {0, 2, 1, 3}), 2), CopyPath::kRows);
  EXPECT_EQ(strided_copy_path(transpose_copy({2, 197, 3, 12, 64}, {2, 0, 3, 1, 4}), 2),
            CopyPath::kRows);
  EXPECT_EQ(strided_copy_path(transpose_copy({64, 12, 128, 64}, {0, 1, 3, 2}), 2),
            CopyPath::kTiledTranspose);
  EXPECT_EQ(strided_copy_path(transpose_copy({2, 3, 9, 10}, {0, 2, 3, 1}), 4),
            CopyPath::kTiledTranspose);
  EXPECT_EQ(strided_copy_path(transpose_copy({1, 5, 1, 7}, {2, 0, 1, 3}), 4), CopyPath::kMemcpy);
  EXPECT_EQ(strided_copy_path(transpose_copy({5}, {0}), 8), CopyPath::kMemcpy);
  StridedCopy empty = transpose_copy({0, 3}, {1, 0});
  EXPECT_EQ(strided_copy_path(empty, 4), CopyPath::kNone);
  // A step along the innermost axis: no contiguous source axis at all.
  StridedCopy stepped;
  stepped.layout = make_strided_layout<2>({4, 3}, {{10, 3}, {3, 1}});
  stepped.count = 12;
  EXPECT_EQ(strided_copy_path(stepped, 4), CopyPath::kGeneric);
}

TEST(StridedCopyPlan, VectorWidthFollowsEveryByteCountAndAddress) {
  EXPECT_EQ(vector_bytes({128, 0, 4096, 256}), 16);
  EXPECT_EQ(vector_bytes({128, 2, 4096}), 2);  // a base one fp16 element in
  EXPECT_EQ(vector_bytes({24, 48}), 8);
  EXPECT_EQ(vector_bytes({12}), 4);
  EXPECT_EQ(vector_bytes({9}), 1);
}

TEST(StridedCopyPlan, RowGridCoversEveryVectorOnce) {
  RowGrid g;
  ASSERT_TRUE(plan_rows(10, 5000, g));
  EXPECT_EQ(g.chunk, kMaxRowChunk);
  EXPECT_EQ(g.chunks.divisor, 3u);  // 2048 + 2048 + 904
  EXPECT_EQ(g.items, 30);
  EXPECT_EQ(1 << g.group_log2, 256);
  ASSERT_TRUE(plan_rows(1000, 8, g));
  EXPECT_EQ(g.chunk, 8);
  EXPECT_EQ(1 << g.group_log2, 8);  // 32 rows per block of 256 threads
  ASSERT_TRUE(plan_rows(7, 3, g));
  EXPECT_EQ(1 << g.group_log2, 4);
  EXPECT_FALSE(plan_rows(int64_t{1} << 31, 1, g));  // past the 31-bit index math
  EXPECT_FALSE(plan_rows(0, 8, g));
}

TEST(IntDivider, MatchesIntegerDivisionBelowTwoToThe31) {
  std::mt19937 rng(3);
  std::vector<int64_t> divisors = {
      1, 2, 3, 7, 12, 64, 197, 768, 1000003, (int64_t{1} << 31) - 1, int64_t{1} << 31};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + rng() % 100000);
  for (int64_t d : divisors) {
    IntDivider div(d);
    std::vector<uint32_t> ns = {0, 1, static_cast<uint32_t>(d - 1), (1u << 31) - 1};
    if (d < (int64_t{1} << 31)) ns.push_back(static_cast<uint32_t>(d));
    for (int i = 0; i < 200; ++i) ns.push_back(rng() % (1u << 31));
    for (uint32_t n : ns) {
      ASSERT_EQ(div.div(n), static_cast<uint32_t>(n / d)) << n << " / " << d;
    }
  }
}

}  // namespace
}  // namespace kiln::cuda
