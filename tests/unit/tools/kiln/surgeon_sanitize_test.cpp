// `kiln surgeon sanitize`: constants folded into initializers, no-ops, duplicates and dead nodes
// dropped, kiln's types recorded, outputs unchanged; a model kiln cannot import is refused.
#include <gtest/gtest.h>

#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"
#include "unit/tools/kiln/surgeon_test_util.hpp"

namespace kiln::test {
namespace {

using P = ::onnx::TensorProto;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// x[2,3,4] -> Reshape(x, Concat(Shape(x)[0], [-1])) -> Add(Mul(w, two)) -> Identity -> Relu
// twice (duplicates) -> Add -> y; plus a dead Neg.
::onnx::ModelProto foldable() {
  ::onnx::TensorProto minus_one;
  minus_one.set_name("minus_one");
  minus_one.set_data_type(P::INT64);
  minus_one.add_dims(1);
  minus_one.add_int64_data(-1);
  ::onnx::TensorProto zero;
  zero.set_name("zero");
  zero.set_data_type(P::INT64);
  zero.add_int64_data(0);
  auto gather = make_node("Gather", {"shape", "zero"}, {"batch"}, "gather");
  auto unsq = make_node("Unsqueeze", {"batch", "axes0"}, {"batch1"}, "unsqueeze");
  ::onnx::TensorProto axes0;
  axes0.set_name("axes0");
  axes0.set_data_type(P::INT64);
  axes0.add_dims(1);
  axes0.add_int64_data(0);
  auto concat = make_node("Concat", {"batch1", "minus_one"}, {"new_shape"}, "concat");
  set_int_attr(concat, "axis", 0);
  return make_model(
      {make_node("Shape", {"x"}, {"shape"}, "shape"), gather, unsq, concat,
       make_node("Reshape", {"x", "new_shape"}, {"flat"}, "reshape"),
       make_node("Mul", {"w", "two"}, {"w2"}, "scale_w"),
       make_node("Add", {"flat", "w2"}, {"sum"}, "add_w"),
       make_node("Identity", {"sum"}, {"same"}, "identity"),
       make_node("Relu", {"same"}, {"r1"}, "relu1"), make_node("Relu", {"same"}, {"r2"}, "relu2"),
       make_node("Add", {"r1", "r2"}, {"y"}, "add"), make_node("Neg", {"x"}, {"dead"}, "neg")},
      {value_info("x", P::FLOAT, {2, 3, 4})}, {value_info("y", P::FLOAT, {2, 12})},
      {float_initializer("w", {12}, wave(12)), float_initializer("two", {}, {2.f}), minus_one, zero,
       axes0});
}

TEST(SurgeonSanitize, FoldsConstantsAndCleansUpKeepingOutputs) {
  TempDir dir;
  write_model(dir.file("m.onnx"), foldable());
  CliResult r = run_kiln({"surgeon", "sanitize", dir.file("m.onnx"), "-o", dir.file("s.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "sanitize: 12 -> 4 nodes")) << r.out;
  EXPECT_TRUE(contains(r.out, "folded new_shape")) << r.out;
  EXPECT_TRUE(contains(r.out, "folded w2")) << r.out;
  auto m = read_model(dir.file("s.onnx"));
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Reshape", "Add", "Relu", "Add"}));
  // The kept Relu reads the Add's output directly; the Add after it adds the Relu to itself.
  EXPECT_EQ(m.graph().node(2).input(0), "sum");
  EXPECT_EQ(m.graph().node(3).input(0), m.graph().node(3).input(1));
  std::set<std::string> inits;
  for (const auto& t : m.graph().initializer()) inits.insert(t.name());
  EXPECT_EQ(inits, (std::set<std::string>{"new_shape", "w2"}));
  // Every node output but the graph output has kiln's type.
  ASSERT_EQ(m.graph().value_info_size(), 3);
  const auto& flat = m.graph().value_info(0);
  EXPECT_EQ(flat.name(), "flat");
  EXPECT_EQ(flat.type().tensor_type().shape().dim(1).dim_value(), 12);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  EXPECT_EQ(m.producer_name(), "kiln-tests");
  expect_same_outputs(dir.file("m.onnx"), dir.file("s.onnx"), {{"x", float_tensor({2, 3, 4})}});
}

TEST(SurgeonSanitize, UnsupportedOpsAreNamed) {
  TempDir dir;
  auto m = make_model(
      {make_node("Relu", {"x"}, {"r"}, "relu"), make_node("NoSuchOp", {"r"}, {"y"}, "mystery")},
      {value_info("x", P::FLOAT, {2})}, {value_info("y", P::FLOAT, {2})});
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln({"surgeon", "sanitize", dir.file("m.onnx"), "-o", dir.file("s.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "sanitize needs kiln to import the model")) << r.err;
  EXPECT_TRUE(contains(r.err, "node 'mystery': op ai.onnx::NoSuchOp")) << r.err;
  EXPECT_TRUE(contains(r.err, "'kiln surgeon remove' or 'kiln surgeon replace'")) << r.err;
}

}  // namespace
}  // namespace kiln::test
