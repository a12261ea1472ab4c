// Inference of the shape op family on symbolic, partially known and fully known shapes, and its
// errors on bad shapes and attributes.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::ir {
namespace {

using In = std::optional<TensorType>;

// A tensor known by dtype and shape only.
In sym(DataType t, SymShape s) {
  return TensorType{t, std::move(s), nullptr};
}
In unranked(DataType t) {
  return TensorType{t, std::nullopt, nullptr};
}

// A tensor whose contents are known (a constant); the tensor must outlive the inference call.
In known(const Tensor& v) {
  return TensorType{v.dtype(), to_sym_shape(v.shape()), &v};
}

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

Dim S(const char* name) {
  return Dim::symbolic(name);
}

std::vector<std::optional<TensorType>> infer(const std::string& op, const Attributes& attrs,
                                             std::vector<In> ins, size_t n_out = 1) {
  Graph g;
  std::vector<Value*> vin, vout;
  for (size_t i = 0; i < ins.size(); ++i)
    vin.push_back(ins[i] ? g.add_value("i" + std::to_string(i)) : nullptr);
  for (size_t i = 0; i < n_out; ++i) vout.push_back(g.add_value("o" + std::to_string(i)));
  Node* n = g.add_node(op, "n", vin, vout);
  n->attrs = attrs;
  return infer_node(*n, std::move(ins));
}

SymShape out_shape(const std::vector<std::optional<TensorType>>& outs, size_t i = 0) {
  EXPECT_TRUE(outs.at(i).has_value());
  EXPECT_TRUE(outs.at(i)->shape.has_value());
  return outs.at(i) && outs.at(i)->shape ? *outs.at(i)->shape : SymShape{};
}

template <typename Fn>
Error error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "none");
}

Attributes attr(const std::string& k, AttrValue v) {
  Attributes a;
  a.set(k, std::move(v));
  return a;
}

TEST(ShapeInference, ReshapeConstantTargetKeepsSymbolicBatch) {
  Tensor target = ints({0, -1});
  auto outs = infer("Reshape", {}, {sym(DataType::kFloat32, {S("batch"), 3, 4}), known(target)});
  EXPECT_EQ(out_shape(outs), (SymShape{S("batch"), 12}));
}

TEST(ShapeInference, ReshapeMinusOneSolvesToSymbolWhenOthersCancel) {
  Tensor target = ints({12, -1});
  auto outs = infer("Reshape", {}, {sym(DataType::kFloat32, {S("batch"), 3, 4}), known(target)});
  EXPECT_EQ(out_shape(outs), (SymShape{12, S("batch")}));
}

TEST(ShapeInference, ReshapeMinusOneUnknownWhenSymbolsDoNotCancel) {
  Tensor target = ints({5, -1});
  auto outs = infer("Reshape", {}, {sym(DataType::kFloat32, {S("batch"), 10}), known(target)});
  EXPECT_EQ(out_shape(outs), (SymShape{5, Dim()}));
}

TEST(ShapeInference, ReshapeComputedTargetGivesRankFromItsLength) {
  // Shape->Gather->Concat chains: the target's values are unknown, its length is not.
  auto outs =
      infer("Reshape", {}, {sym(DataType::kFloat16, {S("b"), 8}), sym(DataType::kInt64, {3})});
  EXPECT_EQ(out_shape(outs), (SymShape{Dim(), Dim(), Dim()}));
  EXPECT_EQ(outs[0]->dtype, DataType::kFloat16);
}

TEST(ShapeInference, ReshapeAllowZeroKeepsLiteralZero) {
  Tensor target = ints({0, 4});
  auto outs = infer("Reshape", attr("allowzero", int64_t{1}),
                    {sym(DataType::kFloat32, {0, 4}), known(target)});
  EXPECT_EQ(out_shape(outs), (SymShape{0, 4}));
}

TEST(ShapeInference, ReshapeRejectsMismatchedCountAndDoubleMinusOne) {
  Tensor bad = ints({5, 5});
  Error e = error_of([&] { infer("Reshape", {}, {sym(DataType::kFloat32, {2, 12}), known(bad)}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("node 'n' (Reshape)"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("24 elements"), std::string::npos);
  Tensor two = ints({-1, -1});
  EXPECT_THROW(infer("Reshape", {}, {sym(DataType::kFloat32, {2, 12}), known(two)}), Error);
  Tensor indivisible = ints({5, -1});
  EXPECT_THROW(infer("Reshape", {}, {sym(DataType::kFloat32, {2, 12}), known(indivisible)}), Error);
}

TEST(ShapeInference, FlattenKeepsLoneSymbolAndHandlesNegativeAxis) {
  auto outs = infer("Flatten", {}, {sym(DataType::kFloat32, {S("n"), 3, 4})});
  EXPECT_EQ(out_shape(outs), (SymShape{S("n"), 12}));
  outs = infer("Flatten", attr("axis", int64_t{-1}), {sym(DataType::kFloat32, {2, 3, 4})});
  EXPECT_EQ(out_shape(outs), (SymShape{6, 4}));
  outs = infer("Flatten", attr("axis", int64_t{0}), {sym(DataType::kFloat32, {2, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{1, 6}));
  EXPECT_THROW(infer("Flatten", attr("axis", int64_t{4}), {sym(DataType::kFloat32, {2, 3, 4})}),
               Error);
}

TEST(ShapeInference, TransposeDefaultReversesAndChecksPerm) {
  auto outs = infer("Transpose", {}, {sym(DataType::kInt8, {S("a"), 2, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{3, 2, S("a")}));
  EXPECT_THROW(infer("Transpose", attr("perm", std::vector<int64_t>{0, 0, 1}),
                     {sym(DataType::kInt8, {1, 2, 3})}),
               Error);
}

TEST(ShapeInference, SqueezeAndUnsqueeze) {
  Tensor axes = ints({0, -1});
  auto outs = infer("Squeeze", {}, {sym(DataType::kFloat32, {1, S("t"), 1}), known(axes)});
  EXPECT_EQ(out_shape(outs), (SymShape{S("t")}));
  // Without axes, an unknown dim may or may not be 1: the rank is unknown.
  outs = infer("Squeeze", {}, {sym(DataType::kFloat32, {1, S("t")})});
  EXPECT_FALSE(outs[0]->shape.has_value());
  Tensor bad = ints({1});
  EXPECT_THROW(infer("Squeeze", {}, {sym(DataType::kFloat32, {1, 3}), known(bad)}), Error);

  Tensor un = ints({-1, 0});
  outs = infer("Unsqueeze", {}, {sym(DataType::kFloat32, {S("t"), 5}), known(un)});
  EXPECT_EQ(out_shape(outs), (SymShape{1, S("t"), 5, 1}));
  Tensor dup = ints({1, 1});
  EXPECT_THROW(infer("Unsqueeze", {}, {sym(DataType::kFloat32, {3}), known(dup)}), Error);
}

TEST(ShapeInference, ConcatSumsAxisAndMergesOtherDims) {
  auto outs = infer("Concat", attr("axis", int64_t{1}),
                    {sym(DataType::kFloat32, {S("b"), 2}), sym(DataType::kFloat32, {4, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{4, 5}));
  outs = infer("Concat", attr("axis", int64_t{0}),
               {sym(DataType::kFloat32, {S("b"), 2}), sym(DataType::kFloat32, {4, 2})});
  EXPECT_EQ(out_shape(outs), (SymShape{Dim(), 2}));
  EXPECT_THROW(infer("Concat", attr("axis", int64_t{0}),
                     {sym(DataType::kFloat32, {1, 2}), sym(DataType::kFloat32, {1, 3})}),
               Error);
  EXPECT_THROW(infer("Concat", attr("axis", int64_t{0}),
                     {sym(DataType::kFloat32, {1}), sym(DataType::kInt32, {1})}),
               Error);
}

TEST(ShapeInference, SplitUnevenLastChunkAndExplicitSizes) {
  auto outs =
      infer("Split", attr("num_outputs", int64_t{3}), {sym(DataType::kFloat32, {S("b"), 7})}, 3);
  // Not splitting along the symbolic dim: axis 0 is symbolic, so sizes are unknown.
  EXPECT_EQ(out_shape(outs, 2), (SymShape{Dim(), 7}));
  Attributes a;
  a.set("axis", int64_t{1});
  a.set("num_outputs", int64_t{3});
  outs = infer("Split", a, {sym(DataType::kFloat32, {S("b"), 7})}, 3);
  EXPECT_EQ(out_shape(outs, 0), (SymShape{S("b"), 3}));
  EXPECT_EQ(out_shape(outs, 2), (SymShape{S("b"), 1}));
  Tensor sizes = ints({2, 5});
  outs =
      infer("Split", attr("axis", int64_t{1}), {sym(DataType::kFloat32, {2, 7}), known(sizes)}, 2);
  EXPECT_EQ(out_shape(outs, 1), (SymShape{2, 5}));
  Tensor wrong = ints({2, 4});
  EXPECT_THROW(
      infer("Split", attr("axis", int64_t{1}), {sym(DataType::kFloat32, {2, 7}), known(wrong)}, 2),
      Error);
}

TEST(ShapeInference, SliceClampsAndKeepsUnslicedSymbols) {
  Tensor starts = ints({-1}), ends = ints({INT64_MIN}), axes = ints({1}), steps = ints({-2});
  auto outs = infer("Slice", {},
                    {sym(DataType::kFloat32, {S("b"), 10}), known(starts), known(ends), known(axes),
                     known(steps)});
  EXPECT_EQ(out_shape(outs), (SymShape{S("b"), 5}));
  // Unknown starts: the sliced axis becomes unknown, the others keep their dims.
  outs = infer("Slice", {},
               {sym(DataType::kFloat32, {S("b"), 10}), sym(DataType::kInt64, {1}),
                sym(DataType::kInt64, {1}), known(axes)});
  EXPECT_EQ(out_shape(outs), (SymShape{S("b"), Dim()}));
  Tensor zero = ints({0});
  EXPECT_THROW(
      infer("Slice", {},
            {sym(DataType::kFloat32, {4}), known(starts), known(ends), known(zero), known(zero)}),
      Error);
}

TEST(ShapeInference, GatherFamilies) {
  auto outs = infer("Gather", attr("axis", int64_t{1}),
                    {sym(DataType::kFloat32, {S("b"), 5, 6}), sym(DataType::kInt64, {2, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{S("b"), 2, 3, 6}));
  EXPECT_THROW(infer("Gather", {}, {sym(DataType::kFloat32, {3}), sym(DataType::kFloat32, {1})}),
               Error);
  outs = infer("GatherND", attr("batch_dims", int64_t{1}),
               {sym(DataType::kFloat32, {2, 3, 4, 5}), sym(DataType::kInt64, {2, 7, 2})});
  EXPECT_EQ(out_shape(outs), (SymShape{2, 7, 5}));
  outs = infer("GatherElements", attr("axis", int64_t{1}),
               {sym(DataType::kFloat32, {2, 3}), sym(DataType::kInt32, {2, 9})});
  EXPECT_EQ(out_shape(outs), (SymShape{2, 9}));
}

TEST(ShapeInference, ExpandWithUnknownTargetValues) {
  auto outs = infer("Expand", {}, {sym(DataType::kFloat32, {3, 1}), sym(DataType::kInt64, {3})});
  EXPECT_EQ(out_shape(outs), (SymShape{Dim(), 3, Dim()}));
  Tensor t = ints({2, 1, 4});
  outs = infer("Expand", {}, {sym(DataType::kFloat32, {3, 1}), known(t)});
  EXPECT_EQ(out_shape(outs), (SymShape{2, 3, 4}));
  Tensor bad = ints({2, 4});
  EXPECT_THROW(infer("Expand", {}, {sym(DataType::kFloat32, {3, 1}), known(bad)}), Error);
}

TEST(ShapeInference, ShapeStartEndAndSize) {
  Attributes a;
  a.set("start", int64_t{-2});
  a.set("end", int64_t{100});
  auto outs = infer("Shape", a, {sym(DataType::kFloat32, {S("b"), 2, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{2}));
  EXPECT_EQ(outs[0]->dtype, DataType::kInt64);
  outs = infer("Shape", attr("start", int64_t{2}), {sym(DataType::kFloat32, {1, 2})});
  EXPECT_EQ(out_shape(outs), (SymShape{0}));
  outs = infer("Size", {}, {unranked(DataType::kInt8)});
  EXPECT_EQ(out_shape(outs), SymShape{});
}

TEST(ShapeInference, GeneratorsComputeFromKnownValues) {
  Tensor shape = ints({2, 3});
  auto outs = infer("ConstantOfShape", {}, {known(shape)});
  EXPECT_EQ(out_shape(outs), (SymShape{2, 3}));
  EXPECT_EQ(outs[0]->dtype, DataType::kFloat32);
  Tensor start = Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{10});
  Tensor limit = Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{-3});
  Tensor delta = Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{-4});
  outs = infer("Range", {}, {known(start), known(limit), known(delta)});
  EXPECT_EQ(out_shape(outs), (SymShape{4}));  // 10, 6, 2, -2
  outs = infer("Range", {}, {known(start), sym(DataType::kInt32, {}), known(delta)});
  EXPECT_EQ(out_shape(outs), (SymShape{Dim()}));
  Tensor depth = Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{5.0f});
  outs = infer("OneHot", attr("axis", int64_t{0}),
               {sym(DataType::kInt64, {S("b"), 2}), known(depth), sym(DataType::kInt32, {2})});
  EXPECT_EQ(out_shape(outs), (SymShape{5, S("b"), 2}));
  EXPECT_EQ(outs[0]->dtype, DataType::kInt32);
}

TEST(ShapeInference, PadAndTileAndBlocks) {
  Tensor pads = ints({1, -1});
  Tensor axes = ints({-1});
  auto outs = infer("Pad", attr("mode", std::string("reflect")),
                    {sym(DataType::kFloat32, {S("b"), 4}), known(pads), std::nullopt, known(axes)});
  EXPECT_EQ(out_shape(outs), (SymShape{S("b"), 4}));
  EXPECT_THROW(infer("Pad", attr("mode", std::string("mirror")),
                     {sym(DataType::kFloat32, {4}), known(ints({1, 1}))}),
               Error);
  Tensor reps = ints({2, 1});
  outs = infer("Tile", {}, {sym(DataType::kFloat32, {3, S("t")}), known(reps)});
  EXPECT_EQ(out_shape(outs), (SymShape{6, S("t")}));
  outs = infer("DepthToSpace", attr("blocksize", int64_t{2}),
               {sym(DataType::kFloat32, {S("n"), 8, 3, 5})});
  EXPECT_EQ(out_shape(outs), (SymShape{S("n"), 2, 6, 10}));
  EXPECT_THROW(
      infer("SpaceToDepth", attr("blocksize", int64_t{2}), {sym(DataType::kFloat32, {1, 1, 3, 4})}),
      Error);
}

TEST(ShapeInference, NonZeroCountIsDataDependent) {
  auto outs = infer("NonZero", {}, {sym(DataType::kFloat32, {2, 3})});
  EXPECT_EQ(out_shape(outs), (SymShape{2, Dim()}));
}

// Rearrange (kiln's): the output takes `shape` and `to`; a read past the input, sizes that do
// not cover the unpadded output, or a non-float type are refused.
TEST(ShapeInference, RearrangeChecksEveryReadAndTheCoveredElements) {
  auto spec = [](std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t pad,
                 const char* to) {
    Attributes a;
    a.set("sizes", std::move(sizes));
    a.set("strides", std::move(strides));
    a.set("shape", std::vector<int64_t>{2, 4, 8});
    a.set("pad", pad);
    a.set("to", std::string(to));
    return a;
  };
  In x = sym(DataType::kFloat32, {2, 3, 4});  // 24 elements
  auto outs = infer("Rearrange", spec({2, 4, 3}, {12, 1, 4}, 5, "float16"), {x});
  EXPECT_EQ(outs[0]->dtype, DataType::kFloat16);
  EXPECT_EQ(out_shape(outs), (SymShape{2, 4, 8}));
  EXPECT_THROW(infer("Rearrange", spec({2, 4, 3}, {12, 1, 5}, 5, "float16"), {x}), Error);  // 25
  EXPECT_THROW(infer("Rearrange", spec({2, 4, 3}, {12, 1, 4}, 4, "float16"), {x}), Error);  // 32
  EXPECT_THROW(infer("Rearrange", spec({2, 4, 3}, {12, 1, 4}, 5, "int32"), {x}), Error);
  EXPECT_THROW(infer("Rearrange", spec({2, 4, 3}, {12, 1}, 5, "float16"), {x}), Error);
}

TEST(ShapeInference, RunTimeErrorsAreInvalidArgument) {
  Graph g;
  Node* n = g.add_node("Reshape", "r", {g.add_value("x"), g.add_value("s")}, {g.add_value("y")});
  Tensor target = ints({7});
  Error e = error_of([&] {
    infer_node(*n, {sym(DataType::kFloat32, {2, 3}), known(target)}, ErrorCode::kInvalidArgument);
  });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::ir
