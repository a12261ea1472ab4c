// Window geometry on hostile attributes and sizes: kernels, dilations, strides and pads whose
// arithmetic passes 64 bits fail naming the node and the axis, for Conv, ConvTranspose and the
// pools, instead of overflowing (signed overflow is undefined) into nonsense sizes.
#include "ir/ops/window.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "ir/op_registry.hpp"
#include "unit/hostile_input_util.hpp"

namespace kiln::ir {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

using Ints = std::vector<int64_t>;

TensorType f32(SymShape s) {
  return TensorType{DataType::kFloat32, std::move(s), nullptr};
}

// Inference of one node named "win" over the given inputs; returns output 0's type.
TensorType infer(const std::string& op, const Attributes& attrs,
                 std::vector<std::optional<TensorType>> inputs) {
  Graph g;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(g.add_value("in" + std::to_string(i)));
  Node* n = g.add_node(op, "win", ins, {g.add_value("out")});
  n->attrs = attrs;
  return *infer_node(*n, std::move(inputs)).at(0);
}

// Expects inference to fail naming the node and what overflowed.
void expect_overflow(const std::string& op, const Attributes& attrs,
                     std::vector<std::optional<TensorType>> inputs) {
  test::expect_error([&] { infer(op, attrs, inputs); }, ErrorCode::kInvalidModel,
                     {"node 'win' (" + op + ")", "overflows"});
}

Attributes window(Ints kernel, Ints strides, Ints dilations, Ints pads) {
  Attributes a;
  if (!kernel.empty()) a.set("kernel_shape", kernel);
  a.set("strides", strides);
  if (!dilations.empty()) a.set("dilations", dilations);
  a.set("pads", pads);
  return a;
}

TEST(WindowOverflow, ConvDilatedKernelExtent) {
  // (k - 1) * d + 1 with k = 2^62 + 1 and d = 4.
  Attributes a = window({(int64_t{1} << 62) + 1}, {1}, {4}, {0, 0});
  expect_overflow("Conv", a, {f32({1, 1, 8}), f32({1, 1, (int64_t{1} << 62) + 1})});
}

TEST(WindowOverflow, ConvPadsPastSixtyFourBits) {
  Attributes a = window({}, {1}, {1}, {kMax, kMax});
  expect_overflow("Conv", a, {f32({1, 1, 8}), f32({1, 1, 3})});
}

TEST(WindowOverflow, ConvGroupTimesChannels) {
  Attributes a = window({}, {1}, {1}, {0, 0});
  a.set("group", int64_t{1} << 62);
  expect_overflow("Conv", a, {f32({1, 4, 8}), f32({4, 8, 3})});
  // ConvTranspose: output channels are weight dim 1 x group.
  const int64_t c = int64_t{1} << 62;
  expect_overflow("ConvTranspose", a, {f32({1, c, 8}), f32({c, 8, 3})});
}

TEST(WindowOverflow, ConvTransposeStrideTimesInput) {
  // stride * (in - 1) with stride 2^62 and in 9; output_padding 0 is below the stride.
  Attributes a = window({}, {int64_t{1} << 62}, {1}, {0, 0});
  expect_overflow("ConvTranspose", a, {f32({1, 1, 9}), f32({1, 1, 3})});
  a.set("auto_pad", std::string("SAME_UPPER"));
  expect_overflow("ConvTranspose", a, {f32({1, 1, 9}), f32({1, 1, 3})});
}

TEST(WindowOverflow, PoolsWithHugePadsAndKernels) {
  expect_overflow("MaxPool", window({3}, {1}, {}, {kMax, 1}), {f32({1, 1, 8})});
  expect_overflow("AveragePool", window({3}, {1}, {}, {1, kMax}), {f32({1, 1, 8})});
  expect_overflow("MaxPool", window({kMax}, {1}, {2}, {0, 0}), {f32({1, 1, 8})});
  // The ceil-mode start of the last window, with a stride near 2^63: no overflow, one window.
  Attributes ceil = window({1}, {kMax}, {}, {0, 0});
  ceil.set("ceil_mode", int64_t{1});
  EXPECT_EQ(*infer("MaxPool", ceil, {f32({1, 1, 8})}).shape, (SymShape{1, 1, 1}));
}

TEST(WindowOverflow, SameAutoPadWithHugeKernel) {
  Attributes a = window({kMax}, {1}, {}, {0, 0});
  a.set("auto_pad", std::string("SAME_UPPER"));
  expect_overflow("AveragePool", a, {f32({1, 1, 8})});
}

TEST(WindowOverflow, LargeButValidGeometryStillWorks) {
  // A window near the 64-bit limit whose arithmetic fits gives its exact size.
  Attributes a = window({2}, {int64_t{1} << 61}, {}, {0, 0});
  EXPECT_EQ(*infer("MaxPool", a, {f32({1, 1, Dim()})}).shape, (SymShape{1, 1, Dim()}));
  EXPECT_EQ(*infer("MaxPool", a, {f32({1, 1, 9})}).shape, (SymShape{1, 1, 1}));
}

}  // namespace
}  // namespace kiln::ir
