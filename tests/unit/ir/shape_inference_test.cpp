// Inference on hostile sizes: shapes computed from data (Expand's target, ConstantOfShape, Tile,
// Range, Pad, Concat, Split) that overflow or pass the tensor size limit fail naming the node and
// the output, at build time (kInvalidModel) and at run time (kInvalidArgument), before anything
// is allocated; and the check that every inferred shape goes through.
#include "ir/shape_inference.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "unit/hostile_input_util.hpp"

namespace kiln::ir {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2Pow62 = int64_t{1} << 62;

using In = std::optional<TensorType>;

In sym(DataType t, SymShape s) {
  return TensorType{t, std::move(s), nullptr};
}

// A tensor whose contents are known; it must outlive the inference call.
In known(const Tensor& v) {
  return TensorType{v.dtype(), to_sym_shape(v.shape()), &v};
}

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

Tensor scalar(int64_t v) {
  return Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{v});
}

// Inference of one node "n" whose output 0 is the value "y".
std::vector<In> infer(const std::string& op, const Attributes& attrs, std::vector<In> ins,
                      ErrorCode code = ErrorCode::kInvalidModel, size_t n_out = 1) {
  Graph g;
  std::vector<Value*> vin, vout;
  for (size_t i = 0; i < ins.size(); ++i) vin.push_back(g.add_value("x" + std::to_string(i)));
  vout.push_back(g.add_value("y"));
  for (size_t i = 1; i < n_out; ++i) vout.push_back(g.add_value("y" + std::to_string(i)));
  Node* n = g.add_node(op, "n", vin, vout);
  n->attrs = attrs;
  return infer_node(*n, std::move(ins), code);
}

// Expects inference to fail with `code`, naming the node and the text `why`.
void expect_refused(const std::string& op, const Attributes& attrs, std::vector<In> ins,
                    const std::string& why, ErrorCode code = ErrorCode::kInvalidModel,
                    size_t n_out = 1) {
  test::expect_error([&] { infer(op, attrs, ins, code, n_out); }, code,
                     {"node 'n' (" + op + ")", why});
}

TEST(ShapeSizeProblem, KnownDimsMustMultiplyWithinSixtyFourBits) {
  EXPECT_FALSE(shape_size_problem({Dim::symbolic("N"), int64_t{1} << 40}, DataType::kFloat32));
  EXPECT_FALSE(shape_size_problem({0, int64_t{1} << 40}, DataType::kFloat32));
  auto p = shape_size_problem({Dim::symbolic("N"), int64_t{1} << 40, int64_t{1} << 40},
                              DataType::kFloat32);
  ASSERT_TRUE(p);
  EXPECT_NE(p->find("64 bits"), std::string::npos) << *p;
  EXPECT_TRUE(shape_size_problem({0, int64_t{1} << 40, int64_t{1} << 40}, DataType::kUInt8));
}

TEST(ShapeSizeProblem, FullyKnownShapesMustFitTheLimit) {
  EXPECT_TRUE(shape_size_problem({k2Pow62}, DataType::kFloat32));  // 2^64 bytes
  test::ScopedTensorByteLimit limit(1024);
  EXPECT_FALSE(shape_size_problem({256}, DataType::kFloat32));
  auto p = shape_size_problem({257}, DataType::kFloat32);
  ASSERT_TRUE(p);
  EXPECT_NE(p->find("1024 bytes"), std::string::npos) << *p;
  // Unknown dims might be 0 or 1: only the overflow rule applies.
  EXPECT_FALSE(shape_size_problem({Dim(), 257}, DataType::kFloat32));
}

TEST(HostileShapes, ExpandToAHugeShape) {
  Tensor target = ints({k2Pow62});
  expect_refused("Expand", {}, {sym(DataType::kFloat32, {1}), known(target)}, "output 0 ('y')");
  // At run time the same shape comes from an input: the caller's error, not the model's.
  expect_refused("Expand", {}, {sym(DataType::kFloat32, {1}), known(target)}, "size limit",
                 ErrorCode::kInvalidArgument);
  Tensor wraps = ints({int64_t{1} << 32, int64_t{1} << 32});
  expect_refused("Expand", {}, {sym(DataType::kFloat32, {1, 1}), known(wraps)}, "64 bits");
}

TEST(HostileShapes, ConstantOfShapeTileAndRange) {
  Tensor shape = ints({int64_t{1} << 31, int64_t{1} << 31});
  expect_refused("ConstantOfShape", {}, {known(shape)}, "size limit");
  Tensor repeats = ints({int64_t{1} << 40});
  expect_refused("Tile", {}, {sym(DataType::kFloat32, {int64_t{1} << 40}), known(repeats)},
                 "overflows");
  Tensor start = scalar(0), limit = scalar(k2Pow62), delta = scalar(1);
  expect_refused("Range", {}, {known(start), known(limit), known(delta)}, "size limit");
}

TEST(HostileShapes, PadConcatAndSplitSums) {
  Tensor pads = ints({0, k2Pow62, 0, k2Pow62});
  expect_refused("Pad", {}, {sym(DataType::kFloat32, {Dim(), k2Pow62}), known(pads)}, "overflows");
  Tensor big_pads = ints({k2Pow62, 0});
  expect_refused("Pad", {}, {sym(DataType::kFloat32, {4}), known(big_pads)}, "size limit");
  // Pads that cancel out to a small size, but whose coordinates the kernel could not compute.
  Tensor absurd = ints({std::numeric_limits<int64_t>::min(), kMax});
  expect_refused("Pad", {}, {sym(DataType::kFloat32, {4}), known(absurd)}, "out of range");

  Attributes axis0;
  axis0.set("axis", int64_t{0});
  expect_refused("Concat", axis0,
                 {sym(DataType::kUInt8, {k2Pow62}), sym(DataType::kUInt8, {k2Pow62})}, "overflows");
  Tensor split = ints({kMax, 1});
  expect_refused("Split", axis0, {sym(DataType::kUInt8, {Dim()}), known(split)}, "overflows",
                 ErrorCode::kInvalidModel, 2);
}

TEST(HostileShapes, ResizeScaleOnAPartlyKnownShape) {
  Tensor roi = Tensor::from_vector(DataType::kFloat32, {0}, std::vector<float>{});
  Tensor scales = Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{1.0f, 1e30f});
  expect_refused("Resize", {}, {sym(DataType::kFloat32, {Dim(), 4}), known(roi), known(scales)},
                 "out of range");
}

TEST(HostileShapes, RankTakenFromAHugeLength) {
  // A shape input declared with 2^62 entries whose values are unknown: the output would have 2^62
  // dims, which inference used to allocate (running out of memory) before anything else.
  In huge_length = sym(DataType::kInt64, {k2Pow62});
  expect_refused("Reshape", {}, {sym(DataType::kFloat32, {4}), huge_length}, "at most 64");
  expect_refused("ConstantOfShape", {}, {huge_length}, "at most 64");
  expect_refused("Expand", {}, {sym(DataType::kFloat32, {4}), huge_length}, "at most 64");
  expect_refused("Col2Im", {},
                 {sym(DataType::kFloat32, {1, 4, 4}), huge_length, sym(DataType::kInt64, {2})},
                 "at most 64");
  // 64 dims are still fine.
  auto outs = infer("ConstantOfShape", {}, {sym(DataType::kInt64, {64})});
  EXPECT_EQ(outs.at(0)->shape->size(), 64u);
}

TEST(HostileShapes, LimitAppliesToEveryInferredOutput) {
  test::ScopedTensorByteLimit limit(64);
  EXPECT_NO_THROW(infer("Relu", {}, {sym(DataType::kFloat32, {16})}));
  expect_refused("Relu", {}, {sym(DataType::kFloat32, {17})}, "64 bytes");
}

}  // namespace
}  // namespace kiln::ir
