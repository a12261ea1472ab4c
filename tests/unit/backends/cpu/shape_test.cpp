// CPU kernels of the shape family run end to end (inference, engine, execution), checked against
// values worked out by hand (numpy semantics), across dtypes and with bad indices.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using test::constant;
using test::make;
using test::omitted;
using test::run_op;
using test::runtime;
using test::values;

Tensor ints(std::vector<int64_t> v) {
  return make<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}
Tensor floats(Shape s, std::vector<float> v) {
  return make<float>(DataType::kFloat32, std::move(s), v);
}
// 0, 1, 2, ... as float32.
Tensor iota(Shape s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return floats(std::move(s), v);
}

ir::Attributes attr(const std::string& k, ir::AttrValue v) {
  ir::Attributes a;
  a.set(k, std::move(v));
  return a;
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

TEST(CpuShape, ReshapeWithRuntimeTarget) {
  auto out = run_op("Reshape", {}, {runtime(iota({2, 3, 4})), runtime(ints({0, -1, 2}))});
  EXPECT_EQ(out[0].shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(values<float>(out[0]), values<float>(iota({2, 3, 4})));
}

TEST(CpuShape, TransposeMovesEveryDtypeWidth) {
  auto f =
      run_op("Transpose", attr("perm", std::vector<int64_t>{1, 2, 0}), {runtime(iota({2, 3, 2}))});
  EXPECT_EQ(f[0].shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(values<float>(f[0]), (std::vector<float>{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11}));
  auto i8 = run_op("Transpose", {}, {runtime(make<int8_t>(DataType::kInt8, {2, 2}, {1, 2, 3, 4}))});
  EXPECT_EQ(values<int8_t>(i8[0]), (std::vector<int8_t>{1, 3, 2, 4}));
  Tensor h = make<uint16_t>(DataType::kFloat16, {1, 3}, {0x3c00, 0x4000, 0x4200});
  auto h2 = run_op("Transpose", {}, {runtime(h)});
  EXPECT_EQ(h2[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(values<uint16_t>(h2[0]), (std::vector<uint16_t>{0x3c00, 0x4000, 0x4200}));
}

TEST(CpuShape, ConcatAndUnevenSplit) {
  auto c = run_op("Concat", attr("axis", int64_t{-1}),
                  {runtime(floats({2, 1}, {1, 2})), runtime(floats({2, 0}, {})),
                   runtime(floats({2, 2}, {3, 4, 5, 6}))});
  EXPECT_EQ(c[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(c[0]), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("num_outputs", int64_t{3});
  auto s = run_op("Split", a, {runtime(iota({2, 5}))}, 3);
  EXPECT_EQ(s[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(s[2].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<float>(s[1]), (std::vector<float>{2, 3, 7, 8}));
  EXPECT_EQ(values<float>(s[2]), (std::vector<float>{4, 9}));
  auto v = run_op("Split", {}, {runtime(iota({5})), constant(ints({4, 0, 1}))}, 3);
  EXPECT_EQ(v[1].shape(), (Shape{0}));
  EXPECT_EQ(values<float>(v[2]), (std::vector<float>{4}));
}

TEST(CpuShape, SliceNegativeStepsAndClamping) {
  auto out = run_op("Slice", {},
                    {runtime(iota({3, 5})), constant(ints({10, -2})), constant(ints({-100, 0})),
                     constant(ints({0, 1})), constant(ints({-2, -1}))});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{13, 12, 11, 3, 2, 1}));
  auto empty = run_op("Slice", {}, {runtime(iota({4})), constant(ints({3})), constant(ints({1}))});
  EXPECT_EQ(empty[0].shape(), (Shape{0}));
}

TEST(CpuShape, GatherNegativeIndicesAndOutOfRange) {
  auto out =
      run_op("Gather", attr("axis", int64_t{1}),
             {runtime(iota({2, 3})), runtime(make<int32_t>(DataType::kInt32, {2}, {-1, 0}))});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 0, 5, 3}));
  Error e = error_of([&] { run_op("Gather", {}, {runtime(iota({2, 3})), runtime(ints({2}))}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("(Gather)"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("index 2 is out of range"), std::string::npos);
}

TEST(CpuShape, GatherElementsAndScatterElements) {
  Tensor idx = make<int64_t>(DataType::kInt64, {2, 2}, {0, -1, 1, 0});
  auto g = run_op("GatherElements", attr("axis", int64_t{1}),
                  {runtime(floats({2, 2}, {1, 2, 3, 4})), runtime(idx)});
  EXPECT_EQ(values<float>(g[0]), (std::vector<float>{1, 2, 4, 3}));
  ir::Attributes a;
  a.set("axis", int64_t{1});
  a.set("reduction", std::string("add"));
  Tensor dup = make<int64_t>(DataType::kInt64, {1, 3}, {1, 1, -3});
  auto s = run_op(
      "ScatterElements", a,
      {runtime(floats({1, 3}, {1, 2, 3})), runtime(dup), runtime(floats({1, 3}, {10, 20, 30}))});
  EXPECT_EQ(values<float>(s[0]), (std::vector<float>{31, 32, 3}));
  a.set("reduction", std::string("max"));
  auto m = run_op(
      "ScatterElements", a,
      {runtime(floats({1, 3}, {1, 50, 3})), runtime(dup), runtime(floats({1, 3}, {10, 20, 30}))});
  EXPECT_EQ(values<float>(m[0]), (std::vector<float>{30, 50, 3}));
  Tensor bad = make<int64_t>(DataType::kInt64, {1, 1}, {3});
  Error e = error_of([&] {
    run_op("ScatterElements", attr("axis", int64_t{1}),
           {runtime(floats({1, 3}, {1, 2, 3})), runtime(bad), runtime(floats({1, 1}, {9}))});
  });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
}

TEST(CpuShape, GatherNDWithBatchDims) {
  // data [2, 2, 2]; per batch, pick rows by index.
  Tensor idx = make<int64_t>(DataType::kInt64, {2, 1}, {1, 0});
  auto out =
      run_op("GatherND", attr("batch_dims", int64_t{1}), {runtime(iota({2, 2, 2})), runtime(idx)});
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{2, 3, 4, 5}));
  Tensor full = make<int64_t>(DataType::kInt64, {2, 3}, {0, 1, 1, 1, -1, 0});
  auto pts = run_op("GatherND", {}, {runtime(iota({2, 2, 2})), runtime(full)});
  EXPECT_EQ(values<float>(pts[0]), (std::vector<float>{3, 6}));
  Tensor oob = make<int64_t>(DataType::kInt64, {1, 1}, {-3});
  EXPECT_THROW(run_op("GatherND", {}, {runtime(iota({2, 2})), runtime(oob)}), Error);
}

TEST(CpuShape, ScatterNDReductionsOnInt32) {
  Tensor data = make<int32_t>(DataType::kInt32, {4}, {1, 2, 3, 4});
  Tensor idx = make<int64_t>(DataType::kInt64, {3, 1}, {3, -1, 0});
  Tensor upd = make<int32_t>(DataType::kInt32, {3}, {5, 6, 7});
  auto none = run_op("ScatterND", {},
                     {runtime(data), runtime(make<int64_t>(DataType::kInt64, {1, 1}, {2})),
                      runtime(make<int32_t>(DataType::kInt32, {1}, {9}))});
  EXPECT_EQ(values<int32_t>(none[0]), (std::vector<int32_t>{1, 2, 9, 4}));
  auto mul = run_op("ScatterND", attr("reduction", std::string("mul")),
                    {runtime(data), runtime(idx), runtime(upd)});
  EXPECT_EQ(values<int32_t>(mul[0]), (std::vector<int32_t>{7, 2, 3, 120}));
  auto mn = run_op("ScatterND", attr("reduction", std::string("min")),
                   {runtime(data), runtime(idx), runtime(upd)});
  EXPECT_EQ(values<int32_t>(mn[0]), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(CpuShape, ExpandAndTile) {
  auto e = run_op("Expand", {}, {runtime(floats({2, 1}, {1, 2})), runtime(ints({2, 1, 3}))});
  EXPECT_EQ(e[0].shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(values<float>(e[0]), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  auto t = run_op("Tile", {},
                  {runtime(make<uint8_t>(DataType::kBool, {1, 2}, {1, 0})), runtime(ints({2, 2}))});
  EXPECT_EQ(t[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(values<uint8_t>(t[0]), (std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 1, 0}));
}

TEST(CpuShape, PadModes) {
  Tensor x = floats({3}, {1, 2, 3});
  auto run = [&](const std::string& mode, std::vector<int64_t> pads) {
    return values<float>(
        run_op("Pad", attr("mode", mode), {runtime(x), constant(ints(std::move(pads)))})[0]);
  };
  EXPECT_EQ(run("reflect", {2, 3}), (std::vector<float>{3, 2, 1, 2, 3, 2, 1, 2}));
  EXPECT_EQ(run("edge", {2, 1}), (std::vector<float>{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(run("wrap", {1, 4}), (std::vector<float>{3, 1, 2, 3, 1, 2, 3, 1}));
  EXPECT_EQ(run("constant", {-1, 1}), (std::vector<float>{2, 3, 0}));
  auto c = run_op("Pad", {},
                  {runtime(make<int64_t>(DataType::kInt64, {1, 2}, {7, 8})), constant(ints({1, 1})),
                   constant(make<int64_t>(DataType::kInt64, {}, {-5})), constant(ints({0}))});
  EXPECT_EQ(c[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values<int64_t>(c[0]), (std::vector<int64_t>{-5, -5, 7, 8, -5, -5}));
}

TEST(CpuShape, NonZeroAllocatesItsOutput) {
  auto out = run_op("NonZero", {}, {runtime(floats({2, 3}, {0, 1, 0, -2, 0, 0.5f}))});
  EXPECT_EQ(out[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(out[0]), (std::vector<int64_t>{0, 1, 1, 1, 0, 2}));
  auto none = run_op("NonZero", {}, {runtime(floats({2}, {0, 0}))});
  EXPECT_EQ(none[0].shape(), (Shape{1, 0}));
}

TEST(CpuShape, OneHotNegativeAndOutOfRange) {
  auto out =
      run_op("OneHot", attr("axis", int64_t{0}),
             {runtime(ints({-1, 5, 1})), constant(make<float>(DataType::kFloat32, {}, {3.0f})),
              runtime(make<int32_t>(DataType::kInt32, {2}, {-1, 9}))});
  EXPECT_EQ(out[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(values<int32_t>(out[0]), (std::vector<int32_t>{-1, -1, -1, -1, -1, 9, 9, -1, -1}));
}

TEST(CpuShape, TriluEyeLikeRangeConstantOfShape) {
  auto lower = run_op("Trilu", attr("upper", int64_t{0}),
                      {runtime(iota({2, 3})), constant(make<int64_t>(DataType::kInt64, {}, {-1}))});
  EXPECT_EQ(values<float>(lower[0]), (std::vector<float>{0, 0, 0, 3, 0, 0}));
  auto upper = run_op("Trilu", {}, {runtime(iota({3, 2}))});
  EXPECT_EQ(values<float>(upper[0]), (std::vector<float>{0, 1, 0, 3, 0, 0}));
  ir::Attributes a;
  a.set("k", int64_t{1});
  a.set("dtype", std::string("int16"));
  auto eye = run_op("EyeLike", a, {runtime(iota({2, 3}))});
  EXPECT_EQ(eye[0].dtype(), DataType::kInt16);
  EXPECT_EQ(values<int16_t>(eye[0]), (std::vector<int16_t>{0, 1, 0, 0, 0, 1}));
  auto r = run_op("Range", {},
                  {runtime(make<double>(DataType::kFloat64, {}, {1.0})),
                   runtime(make<double>(DataType::kFloat64, {}, {2.0})),
                   runtime(make<double>(DataType::kFloat64, {}, {0.25}))});
  EXPECT_EQ(values<double>(r[0]), (std::vector<double>{1.0, 1.25, 1.5, 1.75}));
  auto c = run_op("ConstantOfShape", attr("value", make<uint8_t>(DataType::kUInt8, {1}, {7})),
                  {runtime(ints({2, 2}))});
  EXPECT_EQ(c[0].dtype(), DataType::kUInt8);
  EXPECT_EQ(values<uint8_t>(c[0]), (std::vector<uint8_t>{7, 7, 7, 7}));
}

TEST(CpuShape, RangeInt8CountBeyondElementType) {
  auto r = run_op("Range", {},
                  {runtime(make<int8_t>(DataType::kInt8, {}, {-100})),
                   runtime(make<int8_t>(DataType::kInt8, {}, {127})),
                   runtime(make<int8_t>(DataType::kInt8, {}, {1}))});
  ASSERT_EQ(r[0].numel(), 227);
  std::vector<int8_t> v = values<int8_t>(r[0]);
  EXPECT_EQ(v[0], -100);
  EXPECT_EQ(v[200], 100);
  EXPECT_EQ(v[226], 126);
}

TEST(CpuShape, BadIndexTensorsFailCleanly) {
  Error e = error_of([&] {
    run_op("ScatterND", {},
           {runtime(iota({3})), runtime(make<int64_t>(DataType::kInt64, {}, {0})),
            runtime(floats({}, {1}))});
  });
  // The shapes are known when the engine is built, so inference rejects the node there.
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("(ScatterND): indices must have rank >= 1"),
            std::string::npos);
  EXPECT_THROW(run_op("GatherND", {},
                      {runtime(iota({3})), runtime(make<int64_t>(DataType::kInt64, {}, {0}))}),
               Error);
  // A NaN index in OneHot selects nothing rather than converting out of range.
  auto oh =
      run_op("OneHot", {},
             {runtime(floats({2}, {std::nanf(""), 1.7f})),
              constant(make<int64_t>(DataType::kInt64, {}, {2})), constant(floats({2}, {0, 1}))});
  EXPECT_EQ(values<float>(oh[0]), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_THROW(run_op("GatherElements", {},
                      {runtime(iota({2, 2})),
                       runtime(make<int64_t>(DataType::kInt64, {2, 3}, {0, 0, 0, 0, 0, 0}))}),
               Error);
}

TEST(CpuShape, DepthToSpaceModesAndSpaceToDepthInverse) {
  Tensor x = iota({1, 4, 1, 2});
  auto dcr = run_op("DepthToSpace", attr("blocksize", int64_t{2}), {runtime(x)});
  EXPECT_EQ(dcr[0].shape(), (Shape{1, 1, 2, 4}));
  // DCR: channel (by * 2 + bx) feeds block position (by, bx).
  EXPECT_EQ(values<float>(dcr[0]), (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  ir::Attributes crd = attr("blocksize", int64_t{2});
  crd.set("mode", std::string("CRD"));
  auto c = run_op("DepthToSpace", crd, {runtime(iota({1, 8, 1, 1}))});
  EXPECT_EQ(c[0].shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(values<float>(c[0]), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  auto back = run_op("SpaceToDepth", attr("blocksize", int64_t{2}), {runtime(dcr[0])});
  EXPECT_EQ(back[0].shape(), x.shape());
  EXPECT_EQ(values<float>(back[0]), values<float>(x));
}

TEST(CpuShape, ShapeSizeDropoutIdentity) {
  auto s = run_op("Shape", attr("start", int64_t{1}), {runtime(iota({2, 3, 4}))});
  EXPECT_EQ(values<int64_t>(s[0]), (std::vector<int64_t>{3, 4}));
  auto n = run_op("Size", {}, {runtime(iota({2, 3, 4}))});
  EXPECT_EQ(values<int64_t>(n[0]), (std::vector<int64_t>{24}));
  auto d = run_op(
      "Dropout", {},
      {runtime(floats({2}, {1, 2})), constant(make<float>(DataType::kFloat32, {}, {0.5f}))}, 2);
  EXPECT_EQ(values<float>(d[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(d[1].dtype(), DataType::kBool);
  EXPECT_EQ(values<uint8_t>(d[1]), (std::vector<uint8_t>{1, 1}));
  Error e = error_of([&] {
    run_op("Dropout", {},
           {runtime(floats({2}, {1, 2})), constant(make<float>(DataType::kFloat32, {}, {0.5f})),
            runtime(make<uint8_t>(DataType::kBool, {}, {1}))});
  });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  auto id = run_op("Identity", {}, {runtime(make<uint64_t>(DataType::kUInt64, {2}, {1, ~0ull}))});
  EXPECT_EQ(values<uint64_t>(id[0]), (std::vector<uint64_t>{1, ~0ull}));
}

TEST(CpuShape, SqueezeUnsqueezeFlattenKeepData) {
  auto sq = run_op("Squeeze", {}, {runtime(iota({1, 3, 1}))});
  EXPECT_EQ(sq[0].shape(), (Shape{3}));
  auto un = run_op("Unsqueeze", {}, {runtime(iota({3})), constant(ints({0, 2}))});
  EXPECT_EQ(un[0].shape(), (Shape{1, 3, 1}));
  auto fl = run_op("Flatten", attr("axis", int64_t{2}), {runtime(iota({2, 3, 4}))});
  EXPECT_EQ(fl[0].shape(), (Shape{6, 4}));
  EXPECT_EQ(values<float>(fl[0]), values<float>(iota({2, 3, 4})));
}

}  // namespace
}  // namespace kiln
