// Tensor storage refuses shapes whose byte size overflows or passes the tensor size limit, so
// nbytes() can never wrap to a small number that kernels then walk past.
#include "kiln/tensor.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "unit/hostile_input_util.hpp"

namespace kiln {
namespace {

TEST(Tensor, RefusesShapesWhoseByteSizeWraps) {
  // 2^62 float32 elements are 2^64 bytes: the old nbytes() wrapped to 0 and allocated 64 bytes.
  Shape huge = {int64_t{1} << 62};
  test::expect_error([&] { Tensor t(DataType::kFloat32, huge); }, ErrorCode::kInvalidArgument,
                     {"float32[4611686018427387904]", "size limit"});
  test::expect_error([&] { Tensor t(DataType::kInt64, {int64_t{1} << 61}); },
                     ErrorCode::kInvalidArgument, {"int64"});
  float storage = 0;
  test::expect_error([&] { Tensor::borrow(DataType::kFloat32, huge, &storage, nullptr); },
                     ErrorCode::kInvalidArgument, {"size limit"});
  test::expect_error(
      [&] {
        Tensor t(DataType::kUInt8, {int64_t{1} << 32, int64_t{1} << 32});
      },
      ErrorCode::kInvalidArgument, {"64 bits"});
}

TEST(Tensor, RespectsTheConfiguredLimit) {
  test::ScopedTensorByteLimit limit(1024);
  EXPECT_EQ(Tensor(DataType::kFloat32, {256}).nbytes(), 1024u);
  test::expect_error([&] { Tensor t(DataType::kFloat32, {257}); }, ErrorCode::kInvalidArgument,
                     {"1024 bytes"});
  std::vector<float> values(300);
  test::expect_error([&] { Tensor::from_vector(DataType::kFloat32, {300}, values); },
                     ErrorCode::kInvalidArgument, {"size limit"});
}

TEST(Tensor, EmptyShapesStayValid) {
  Tensor t(DataType::kFloat32, {0, int64_t{1} << 40});
  EXPECT_EQ(t.numel(), 0);
  EXPECT_EQ(t.nbytes(), 0u);
  EXPECT_EQ(t.reshaped({int64_t{1} << 40, 0}).numel(), 0);
}

}  // namespace
}  // namespace kiln
