// Overflow-checked sizes: products and sums that would wrap are refused, element counts follow the
// non-zero-dims rule, and byte sizes respect the configurable tensor size limit.
#include "core/checked_size.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "unit/hostile_input_util.hpp"

namespace kiln {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(CheckedSize, MulAndAddRefuseWhatWouldWrap) {
  EXPECT_EQ(checked_mul(int64_t{1} << 31, int64_t{1} << 31), int64_t{1} << 62);
  EXPECT_EQ(checked_mul(0, kMax), 0);
  EXPECT_FALSE(checked_mul(int64_t{1} << 32, int64_t{1} << 31));
  EXPECT_FALSE(checked_mul(-1, 4));
  EXPECT_EQ(checked_add(kMax - 1, 1), kMax);
  EXPECT_FALSE(checked_add(kMax, 1));
  EXPECT_FALSE(checked_add(-1, 1));
}

TEST(CheckedSize, NumelRefusesOverflowNamingTheTensor) {
  std::vector<int64_t> huge = {int64_t{1} << 62};
  // 2^62 elements fit in 64 bits; 2^64 bytes of float32 do not, and the old product wrapped to 0.
  test::expect_error([&] { checked_numel(huge, 4, ErrorCode::kInvalidModel, "initializer 'w'"); },
                     ErrorCode::kInvalidModel, {"initializer 'w'", "size limit"});
  std::vector<int64_t> wraps = {int64_t{1} << 32, int64_t{1} << 32};
  test::expect_error([&] { checked_numel(wraps, 1, ErrorCode::kInvalidPlan, "constant 'c'"); },
                     ErrorCode::kInvalidPlan, {"constant 'c'", "64 bits"});
  std::vector<int64_t> negative = {3, -2};
  test::expect_error([&] { checked_numel(negative, 1, ErrorCode::kInvalidArgument, "input 'x'"); },
                     ErrorCode::kInvalidArgument, {"input 'x'", "negative"});
}

TEST(CheckedSize, NonZeroDimsMustMultiplyWithinSixtyFourBitsEvenWhenEmpty) {
  // Kernels multiply subsets of dims (strides, outer and inner sizes); an empty tensor whose other
  // dims overflow would still overflow there.
  std::vector<int64_t> empty_but_huge = {0, int64_t{1} << 40, int64_t{1} << 40};
  test::expect_error(
      [&] { checked_numel(empty_but_huge, 4, ErrorCode::kInvalidArgument, "tensor"); },
      ErrorCode::kInvalidArgument, {"64 bits"});
  std::vector<int64_t> empty = {0, int64_t{1} << 40};
  EXPECT_EQ(checked_numel(empty, 4, ErrorCode::kInvalidArgument, "tensor"), 0);
}

TEST(CheckedSize, LimitIsConfigurable) {
  std::vector<int64_t> mib = {1 << 18};  // 1 MiB of float32
  EXPECT_EQ(checked_numel(mib, 4, ErrorCode::kInvalidArgument, "t"), 1 << 18);
  {
    test::ScopedTensorByteLimit limit(1 << 19);
    EXPECT_EQ(tensor_byte_limit(), uint64_t{1} << 19);
    test::expect_error([&] { checked_numel(mib, 4, ErrorCode::kInvalidArgument, "t"); },
                       ErrorCode::kInvalidArgument, {"524288 bytes"});
    EXPECT_EQ(checked_nbytes(1 << 17, 4, ErrorCode::kInvalidArgument, "t"), size_t{1} << 19);
  }
  EXPECT_EQ(checked_numel(mib, 4, ErrorCode::kInvalidArgument, "t"), 1 << 18);
}

}  // namespace
}  // namespace kiln
