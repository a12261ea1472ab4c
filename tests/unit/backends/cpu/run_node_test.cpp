// Output allocation on the CPU backend with hostile sizes coming from run-time inputs: Expand,
// ConstantOfShape, Tile and Pad to shapes that overflow or pass the tensor size limit fail with a
// clean error naming the node, where they used to get a buffer whose size had wrapped; Reduce of
// an empty input with a huge other dim gives its empty result without walking that dim.
#include <gtest/gtest.h>

#include <limits>

#include "unit/hostile_input_util.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::expect_error;
using test::make;
using test::run_op;
using test::runtime;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2Pow62 = int64_t{1} << 62;

Tensor ints(std::vector<int64_t> v) {
  return make<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

Tensor floats(Shape shape) {
  return Tensor(DataType::kFloat32, std::move(shape));
}

void expect_run_error(const std::string& op, const ir::Attributes& attrs,
                      const std::vector<test::OpInput>& inputs, const std::string& why) {
  expect_error([&] { run_op(op, attrs, inputs); }, ErrorCode::kInvalidArgument,
               {"node 'test_" + op + "' (" + op + ")", why});
}

TEST(CpuRunNode, ExpandToAHugeRuntimeShape) {
  // 2^62 float32 elements: 2^64 bytes, which wrapped to a 64-byte buffer the kernel then filled.
  expect_run_error("Expand", {}, {runtime(floats({1})), runtime(ints({k2Pow62}))}, "size limit");
  expect_run_error("Expand", {}, {runtime(floats({1, 1})), runtime(ints({1 << 30, 1 << 30}))},
                   "size limit");
}

TEST(CpuRunNode, ConstantOfShapeAndTileToHugeRuntimeShapes) {
  expect_run_error("ConstantOfShape", {}, {runtime(ints({int64_t{1} << 31, int64_t{1} << 31}))},
                   "size limit");
  expect_run_error("Tile", {}, {runtime(floats({1})), runtime(ints({k2Pow62}))}, "size limit");
  expect_run_error("Tile", {}, {runtime(floats({4})), runtime(ints({k2Pow62}))}, "overflows");
}

TEST(CpuRunNode, PadWithHugeRuntimePads) {
  expect_run_error("Pad", {}, {runtime(floats({3})), runtime(ints({k2Pow62, 0}))}, "size limit");
  expect_run_error("Pad", {}, {runtime(floats({3})), runtime(ints({kMax, 1}))}, "out of range");
}

TEST(CpuRunNode, OutputsRespectTheConfiguredLimit) {
  test::ScopedTensorByteLimit limit(1024);
  auto ok = run_op("Expand", {}, {runtime(floats({1})), runtime(ints({256}))});
  EXPECT_EQ(ok[0].numel(), 256);
  expect_run_error("Expand", {}, {runtime(floats({1})), runtime(ints({257}))}, "1024 bytes");
}

TEST(CpuRunNode, ReduceOfAnEmptyInputWithAHugeDim) {
  // [0, 2^40]: no elements, but reducing its last axis used to list 2^40 offsets per output.
  Tensor x = floats({0, int64_t{1} << 40});
  ir::Attributes a;
  a.set("keepdims", int64_t{0});
  auto out = run_op("ReduceSum", a, {runtime(x), runtime(ints({1}))});
  EXPECT_EQ(out[0].shape(), (Shape{0}));
  a.set("keepdims", int64_t{1});
  out = run_op("ReduceMax", a, {runtime(x), runtime(ints({1}))});
  EXPECT_EQ(out[0].shape(), (Shape{0, 1}));
  // Reducing the empty axis instead gives 2^40 outputs: 4 TiB, over the limit.
  expect_run_error("ReduceSum", a, {runtime(x), runtime(ints({0}))}, "size limit");
}

}  // namespace
}  // namespace kiln
