// `kiln surgeon remove`, `replace`, `set-shape` and `extract`: the edited graphs, their outputs,
// and one clear error for each kind of bad request.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"
#include "unit/tools/kiln/surgeon_test_util.hpp"

namespace kiln::test {
namespace {

using P = ::onnx::TensorProto;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// x -> Relu(r) -> Dropout(d) -> Sigmoid(s) -> Tanh -> y
::onnx::ModelProto chain() {
  return make_model(
      {make_node("Relu", {"x"}, {"r"}, "relu"), make_node("Dropout", {"r"}, {"d"}, "drop"),
       make_node("Sigmoid", {"d"}, {"s"}, "sigmoid"), make_node("Tanh", {"s"}, {"y"}, "tanh")},
      {value_info("x", P::FLOAT, {-1, 4}, {"N"})}, {value_info("y", P::FLOAT, {-1, 4}, {"N"})});
}

TEST(SurgeonRemove, RewiresReadersToTheFirstInput) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  CliResult r = run_kiln(
      {"surgeon", "remove", dir.file("m.onnx"), "--op", "Dropout", "-o", dir.file("out.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "readers of 'd' now read 'r'")) << r.out;
  EXPECT_TRUE(contains(r.out, "remove: 1 node(s) removed")) << r.out;
  auto m = read_model(dir.file("out.onnx"));
  ASSERT_EQ(m.graph().node_size(), 3);
  EXPECT_EQ(m.graph().node(1).input(0), "r");
  expect_same_outputs(dir.file("m.onnx"), dir.file("out.onnx"), {{"x", float_tensor({3, 4})}});
}

TEST(SurgeonRemove, ANodeWritingAGraphOutputHandsItsNameToItsInputsProducer) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  CliResult r = run_kiln(
      {"surgeon", "remove", dir.file("m.onnx"), "--name", "tanh", "-o", dir.file("out.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  auto m = read_model(dir.file("out.onnx"));
  ASSERT_EQ(m.graph().node_size(), 3);
  EXPECT_EQ(m.graph().node(2).op_type(), "Sigmoid");
  EXPECT_EQ(m.graph().node(2).output(0), "y");
  EXPECT_EQ(m.graph().output(0).name(), "y");
}

TEST(SurgeonRemove, ClearErrors) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  std::string out = dir.file("out.onnx");
  CliResult r = run_kiln({"surgeon", "remove", dir.file("m.onnx"), "--name", "nope", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "kiln surgeon remove: error: no node is named 'nope'")) << r.err;
  r = run_kiln({"surgeon", "remove", dir.file("m.onnx"), "--op", "Conv", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no node has op type Conv")) << r.err;
  r = run_kiln({"surgeon", "remove", dir.file("m.onnx"), "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--name or --op")) << r.err;
  // A Flatten's input and output differ in rank: its readers would see another shape.
  auto flat =
      make_model({make_node("Flatten", {"x"}, {"y"}, "flat")},
                 {value_info("x", P::FLOAT, {2, 3, 4})}, {value_info("y", P::FLOAT, {2, 12})});
  write_model(dir.file("flat.onnx"), flat);
  r = run_kiln({"surgeon", "remove", dir.file("flat.onnx"), "--op", "Flatten", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err,
                       "cannot remove node 'flat' (Flatten): its input 'x' and output 'y' "
                       "differ (float32[2,3,4] vs float32[2,12])"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

// y = Where(cond, x, zeros) * 2: a training-only select whose X is what inference wants.
::onnx::ModelProto masked() {
  auto where = make_node("Where", {"cond", "x", "zeros"}, {"w"}, "select");
  return make_model({where, make_node("Mul", {"w", "two"}, {"y"}, "scale")},
                    {value_info("cond", P::BOOL, {2, 3}), value_info("x", P::FLOAT, {2, 3})},
                    {value_info("y", P::FLOAT, {2, 3})},
                    {float_initializer("zeros", {2, 3}, std::vector<float>(6, 0.f)),
                     float_initializer("two", {}, {2.f})});
}

TEST(SurgeonReplace, WhereBecomesIdentityOfItsX) {
  TempDir dir;
  write_model(dir.file("m.onnx"), masked());
  CliResult r = run_kiln({"surgeon", "replace", dir.file("m.onnx"), "--op", "Where", "--with",
                          "Identity", "--input-index", "1", "-o", dir.file("out.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "node 'select' (Where) -> Identity of 'x'")) << r.out;
  EXPECT_TRUE(contains(r.out, "replace: 1 node(s) replaced by Identity")) << r.out;
  auto m = read_model(dir.file("out.onnx"));
  EXPECT_EQ(m.graph().node(0).op_type(), "Identity");
  EXPECT_EQ(m.graph().node(0).name(), "select");
  ASSERT_EQ(m.graph().node(0).input_size(), 1);
  // The initializer only the Where read is gone; the graph keeps its inputs.
  EXPECT_EQ(m.graph().initializer_size(), 1);
  EXPECT_EQ(m.graph().input_size(), 2);
  std::vector<Tensor> y = run_model(
      dir.file("out.onnx"),
      {{"x", float_tensor({2, 3})},
       {"cond", Tensor::from_vector(DataType::kBool, {2, 3}, std::vector<uint8_t>(6, 0))}});
  Tensor x = float_tensor({2, 3});
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], 2 * x.data<float>()[i]);
}

TEST(SurgeonReplace, KeepingAnInputOfAnotherTypeIsRefused) {
  TempDir dir;
  write_model(dir.file("m.onnx"), masked());
  CliResult r = run_kiln({"surgeon", "replace", dir.file("m.onnx"), "--op", "Where", "--with",
                          "Identity", "-o", dir.file("out.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err,
                       "cannot replace node 'select' (Where): its input 0 'cond' and its "
                       "output 'w' differ (bool[2,3] vs float32[2,3]); pick the input"))
      << r.err;
  r = run_kiln({"surgeon", "replace", dir.file("m.onnx"), "--name", "select", "--with", "Identity",
                "--input-index", "5", "-o", dir.file("out.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "has no input 5 (it has 3)")) << r.err;
}

TEST(SurgeonSetShape, StaticAndSymbolicDimsAndReinference) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  CliResult r = run_kiln({"surgeon", "set-shape", dir.file("m.onnx"), "--shape", "x=2x4", "-o",
                          dir.file("static.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "x: float32[N,4] -> float32[2,4]")) << r.out;
  auto m = read_model(dir.file("static.onnx"));
  EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(0).dim_value(), 2);
  EXPECT_EQ(m.graph().value_info_size(), 3);  // r, d, s
  expect_same_outputs(dir.file("m.onnx"), dir.file("static.onnx"), {{"x", float_tensor({2, 4})}});

  r = run_kiln({"surgeon", "set-shape", dir.file("m.onnx"), "--shape", "x=batchx4", "-o",
                dir.file("sym.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  m = read_model(dir.file("sym.onnx"));
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(m.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
}

TEST(SurgeonSetShape, ClearErrors) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  std::string out = dir.file("out.onnx");
  CliResult r =
      run_kiln({"surgeon", "set-shape", dir.file("m.onnx"), "--shape", "image=1x4", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "the model has no input 'image' (its inputs: x)")) << r.err;
  r = run_kiln({"surgeon", "set-shape", dir.file("m.onnx"), "--shape", "x=1x-4", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "cannot read dim '-4' of 'x=1x-4'")) << r.err;
  r = run_kiln({"surgeon", "set-shape", dir.file("m.onnx"), "--shape", "x", "-o", out});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--shape 'x' must be NAME=VALUE")) << r.err;
}

TEST(SurgeonExtract, KeepsTheSubgraphBetweenTensorsWithInferredTypes) {
  TempDir dir;
  write_model(dir.file("m.onnx"), chain());
  CliResult r = run_kiln({"surgeon", "extract", dir.file("m.onnx"), "--inputs", "r", "--outputs",
                          "s", "-o", dir.file("part.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "extract: 4 -> 2 nodes")) << r.out;
  auto m = read_model(dir.file("part.onnx"));
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "r");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().elem_type(), P::FLOAT);
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "N");
  EXPECT_EQ(m.graph().output(0).name(), "s");
  // sigmoid(dropout(r)) on r = relu(x) as input.
  Tensor x = float_tensor({3, 4});
  std::vector<Tensor> s = run_model(dir.file("part.onnx"), {{"r", x}});
  for (int i = 0; i < 12; ++i) {
    EXPECT_NEAR(s[0].data<float>()[i], 1 / (1 + std::exp(-x.data<float>()[i])), 1e-6);
  }
}

TEST(SurgeonExtract, AnOutputNeedingAnotherGraphInputIsNamed) {
  TempDir dir;
  auto m = make_model(
      {make_node("Add", {"a", "b"}, {"s"}, "add"), make_node("Relu", {"s"}, {"y"}, "relu")},
      {value_info("a", P::FLOAT, {2}), value_info("b", P::FLOAT, {2})},
      {value_info("y", P::FLOAT, {2})});
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln({"surgeon", "extract", dir.file("m.onnx"), "--inputs", "a", "--outputs",
                          "y", "-o", dir.file("part.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err,
                       "output 'y' depends on 'b', which is a graph input not among "
                       "--inputs"))
      << r.err;
  r = run_kiln({"surgeon", "extract", dir.file("m.onnx"), "--inputs", "a,b", "--outputs", "missing",
                "-o", dir.file("part.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--outputs: the model has no tensor 'missing'")) << r.err;
}

}  // namespace
}  // namespace kiln::test
