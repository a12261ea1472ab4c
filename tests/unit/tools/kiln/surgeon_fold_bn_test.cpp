// `kiln surgeon fold-bn`: BatchNormalization folded into Conv, ConvTranspose and Gemm weights,
// shared weights copied, unfoldable ones kept with a reason; outputs unchanged.
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

// The four BatchNormalization parameters of `prefix` for `c` channels (var > 0).
std::vector<P> bn_params(const std::string& prefix, int64_t c, float phase) {
  std::vector<float> var = wave(c, phase + 3);
  for (float& v : var) v = 0.5f + v * v;
  return {float_initializer(prefix + "_scale", {c}, wave(c, phase)),
          float_initializer(prefix + "_b", {c}, wave(c, phase + 1)),
          float_initializer(prefix + "_mean", {c}, wave(c, phase + 2)),
          float_initializer(prefix + "_var", {c}, var)};
}

::onnx::NodeProto bn(const std::string& prefix, const std::string& in, const std::string& out) {
  auto n = make_node("BatchNormalization",
                     {in, prefix + "_scale", prefix + "_b", prefix + "_mean", prefix + "_var"},
                     {out}, prefix);
  set_float_attr(n, "epsilon", 1e-3f);
  return n;
}

// x[2,4,5,5] -> Conv(bias) -> BN -> ConvTranspose(group 2, no bias) -> BN -> GlobalAveragePool ->
// Flatten -> Gemm(no C) -> BN -> y, and a Gemm with transB and C -> BN -> z.
::onnx::ModelProto three_kinds() {
  std::vector<P> inits = {float_initializer("conv_w", {6, 4, 3, 3}, wave(6 * 4 * 9)),
                          float_initializer("conv_b", {6}, wave(6, 1)),
                          float_initializer("deconv_w", {6, 2, 2, 2}, wave(6 * 2 * 2 * 2, 2)),
                          float_initializer("fc_w", {4, 3}, wave(12, 3)),
                          float_initializer("fc2_w", {5, 4}, wave(20, 4)),
                          float_initializer("fc2_c", {5}, wave(5, 5))};
  for (auto& [p, c, phase] : std::vector<std::tuple<std::string, int64_t, float>>{
           {"bn1", 6, 0.f}, {"bn2", 4, 1.f}, {"bn3", 3, 2.f}, {"bn4", 5, 3.f}}) {
    for (auto& t : bn_params(p, c, phase)) inits.push_back(t);
  }
  auto conv = make_node("Conv", {"x", "conv_w", "conv_b"}, {"c1"}, "conv");
  set_ints_attr(conv, "pads", {1, 1, 1, 1});
  auto deconv = make_node("ConvTranspose", {"r1", "deconv_w"}, {"d1"}, "deconv");
  set_int_attr(deconv, "group", 2);
  set_ints_attr(deconv, "strides", {2, 2});
  auto flatten = make_node("Flatten", {"pooled"}, {"flat"}, "flatten");
  auto fc2 = make_node("Gemm", {"flat", "fc2_w", "fc2_c"}, {"g2"}, "fc2");
  set_int_attr(fc2, "transB", 1);
  set_float_attr(fc2, "beta", 0.5f);
  return make_model(
      {conv, bn("bn1", "c1", "n1"), make_node("Relu", {"n1"}, {"r1"}, "relu"), deconv,
       bn("bn2", "d1", "n2"), make_node("GlobalAveragePool", {"n2"}, {"pooled"}, "gap"), flatten,
       make_node("Gemm", {"flat", "fc_w"}, {"g1"}, "fc"), bn("bn3", "g1", "y"), fc2,
       bn("bn4", "g2", "z")},
      {value_info("x", P::FLOAT, {2, 4, 5, 5})},
      {value_info("y", P::FLOAT, {2, 3}), value_info("z", P::FLOAT, {2, 5})}, inits);
}

TEST(SurgeonFoldBn, FoldsIntoConvConvTransposeAndGemmKeepingOutputs) {
  TempDir dir;
  write_model(dir.file("m.onnx"), three_kinds());
  CliResult r = run_kiln({"surgeon", "fold-bn", dir.file("m.onnx"), "-o", dir.file("f.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fold-bn: 4 BatchNormalization node(s) folded")) << r.out;
  EXPECT_TRUE(contains(r.out, "folded node 'bn2' (BatchNormalization) into node 'deconv'"))
      << r.out;
  ::onnx::ModelProto folded = read_model(dir.file("f.onnx"));
  EXPECT_EQ(count_ops(folded, "BatchNormalization"), 0);
  EXPECT_EQ(folded.graph().node_size(), 7);
  // The ConvTranspose had no bias: one was created.
  for (const auto& n : folded.graph().node()) {
    if (n.op_type() != "Relu" && n.op_type() != "GlobalAveragePool" && n.op_type() != "Flatten") {
      EXPECT_EQ(n.input_size(), 3) << n.name();
    }
  }
  // Every BatchNormalization parameter is gone.
  for (const auto& t : folded.graph().initializer()) {
    EXPECT_FALSE(contains(t.name(), "_mean")) << t.name();
  }
  expect_same_outputs(dir.file("m.onnx"), dir.file("f.onnx"), {{"x", float_tensor({2, 4, 5, 5})}});
}

TEST(SurgeonFoldBn, CopiesAWeightAnotherNodeSharesAndKeepsUnfoldable) {
  TempDir dir;
  std::vector<P> inits = {float_initializer("w", {3, 3, 1, 1}, wave(9))};
  for (auto& t : bn_params("bn_a", 3, 0.f)) inits.push_back(t);
  for (auto& t : bn_params("bn_b", 3, 1.f)) inits.push_back(t);
  // conv_a feeds bn_a only; conv_b's output also feeds `extra`, so bn_b must stay.
  auto m = make_model({make_node("Conv", {"x", "w"}, {"a"}, "conv_a"), bn("bn_a", "a", "a2"),
                       make_node("Conv", {"a2", "w"}, {"b"}, "conv_b"), bn("bn_b", "b", "b2"),
                       make_node("Add", {"b2", "b"}, {"y"}, "extra")},
                      {value_info("x", P::FLOAT, {1, 3, 4, 4})},
                      {value_info("y", P::FLOAT, {1, 3, 4, 4})}, inits);
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln({"surgeon", "fold-bn", dir.file("m.onnx"), "-o", dir.file("f.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fold-bn: 1 BatchNormalization node(s) folded")) << r.out;
  EXPECT_TRUE(contains(r.out, "kept node 'bn_b' (BatchNormalization): 'b' is also used elsewhere"))
      << r.out;
  ::onnx::ModelProto folded = read_model(dir.file("f.onnx"));
  EXPECT_EQ(count_ops(folded, "BatchNormalization"), 1);
  const auto& conv_a = folded.graph().node(0);
  const auto& conv_b = folded.graph().node(1);
  EXPECT_EQ(conv_a.input(1), "w_bn_folded");
  EXPECT_EQ(conv_b.input(1), "w");  // the shared original is left as it was
  expect_same_outputs(dir.file("m.onnx"), dir.file("f.onnx"), {{"x", float_tensor({1, 3, 4, 4})}});
}

TEST(SurgeonFoldBn, TrainingModeAndNonConvInputsAreKept) {
  TempDir dir;
  std::vector<P> inits = bn_params("bn", 3, 0.f);
  auto train = bn("bn", "r", "y");
  set_int_attr(train, "training_mode", 1);
  auto m = make_model({make_node("Relu", {"x"}, {"r"}, "relu"), train},
                      {value_info("x", P::FLOAT, {1, 3, 2, 2})},
                      {value_info("y", P::FLOAT, {1, 3, 2, 2})}, inits);
  m.mutable_opset_import(0)->set_version(15);
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln({"surgeon", "fold-bn", dir.file("m.onnx"), "-o", dir.file("f.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0 BatchNormalization node(s) folded")) << r.out;
  EXPECT_TRUE(contains(r.out, "it runs in training mode")) << r.out;
}

// PyTorch's exporter passes running statistics shared by several BatchNorms through Identity nodes.
TEST(SurgeonFoldBn, ReadsStatisticsThroughIdentityNodes) {
  TempDir dir;
  std::vector<P> inits = bn_params("bn", 3, 0.f);
  inits.push_back(float_initializer("w", {3, 2, 1, 1}, wave(6)));
  auto m = make_model({make_node("Identity", {"bn_mean"}, {"shared_mean"}, "id"),
                       make_node("Conv", {"x", "w"}, {"c"}, "conv"),
                       make_node("BatchNormalization",
                                 {"c", "bn_scale", "bn_b", "shared_mean", "bn_var"}, {"y"}, "bn")},
                      {value_info("x", P::FLOAT, {1, 2, 3, 3})},
                      {value_info("y", P::FLOAT, {1, 3, 3, 3})}, inits);
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln({"surgeon", "fold-bn", dir.file("m.onnx"), "-o", dir.file("f.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fold-bn: 1 BatchNormalization node(s) folded")) << r.out;
  expect_same_outputs(dir.file("m.onnx"), dir.file("f.onnx"), {{"x", float_tensor({1, 2, 3, 3})}});
}

}  // namespace
}  // namespace kiln::test
