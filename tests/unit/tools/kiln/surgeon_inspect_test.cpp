// `kiln surgeon inspect` (text and JSON, unsupported ops by node), and the model I/O every
// surgeon subcommand shares: external data read and written, bad files refused by name.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"
#include "unit/tools/kiln/surgeon_test_util.hpp"

namespace kiln::test {
namespace {

using P = ::onnx::TensorProto;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

::onnx::ModelProto with_custom_ops() {
  auto custom = make_node("FancyAct", {"r"}, {"f"}, "fancy");
  custom.set_domain("com.example");
  auto m = make_model(
      {make_node("MatMul", {"x", "w"}, {"mm"}, "mm"), make_node("Relu", {"mm"}, {"r"}, "relu"),
       custom, make_node("NoSuchOp", {"f"}, {"y"}, "mystery")},
      {value_info("x", P::FLOAT, {-1, 4}, {"N"})}, {value_info("y", P::FLOAT, {-1, 4}, {"N"})},
      {float_initializer("w", {4, 4}, wave(16))});
  auto* o = m.add_opset_import();
  o->set_domain("com.example");
  o->set_version(1);
  return m;
}

TEST(SurgeonInspect, TextListsOpsAndTheNodesKilnCannotRun) {
  TempDir dir;
  write_model(dir.file("m.onnx"), with_custom_ops());
  CliResult r = run_kiln({"surgeon", "inspect", dir.file("m.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "opsets:       ai.onnx 17; com.example 1;")) << r.out;
  EXPECT_TRUE(contains(r.out, "  x: float32[N,4]")) << r.out;
  EXPECT_TRUE(contains(r.out, "initializers: 1 (64 B)")) << r.out;
  EXPECT_TRUE(contains(r.out, "nodes:        4")) << r.out;
  EXPECT_TRUE(contains(r.out, "unsupported:  2 op(s) kiln does not implement")) << r.out;
  EXPECT_TRUE(contains(r.out, "  NoSuchOp (1): mystery")) << r.out;
  EXPECT_TRUE(contains(r.out, "  com.example::FancyAct (1): fancy")) << r.out;
}

TEST(SurgeonInspect, Json) {
  TempDir dir;
  write_model(dir.file("m.onnx"), with_custom_ops());
  CliResult r = run_kiln({"surgeon", "inspect", dir.file("m.onnx"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["N", 4])"));
  EXPECT_EQ(j["op_histogram"]["Relu"], 1);
  EXPECT_EQ(j["initializer_bytes"], 64);
  ASSERT_EQ(j["unsupported_ops"].size(), 2u);
  EXPECT_EQ(j["unsupported_ops"][1]["op"], "com.example::FancyAct");
  EXPECT_EQ(j["unsupported_ops"][1]["nodes"][0], "fancy");
  EXPECT_EQ(j["kiln_imports"], false);
}

TEST(SurgeonModelIo, ExternalDataIsReadAndWritten) {
  TempDir dir;
  auto m = make_model({make_node("MatMul", {"x", "w"}, {"y"}, "mm")},
                      {value_info("x", P::FLOAT, {2, 32})}, {value_info("y", P::FLOAT, {2, 32})},
                      {float_initializer("w", {32, 32}, wave(32 * 32))});
  write_model(dir.file("m.onnx"), m);
  CliResult r = run_kiln(
      {"surgeon", "sanitize", dir.file("m.onnx"), "--external-data", "-o", dir.file("ext.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "ext.onnx.data (1 initializer(s), 4.1 KB)")) << r.out;
  auto written = read_model(dir.file("ext.onnx"));
  EXPECT_EQ(written.graph().initializer(0).data_location(), P::EXTERNAL);
  // Read back (inlined), and run through kiln from the external data.
  r = run_kiln({"surgeon", "inspect", dir.file("ext.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 from external data")) << r.out;
  expect_same_outputs(dir.file("m.onnx"), dir.file("ext.onnx"), {{"x", float_tensor({2, 32})}});
  r = run_kiln({"surgeon", "fold-bn", dir.file("ext.onnx"), "-o", dir.file("inline.onnx")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(read_model(dir.file("inline.onnx")).graph().initializer(0).has_raw_data());
  expect_same_outputs(dir.file("m.onnx"), dir.file("inline.onnx"), {{"x", float_tensor({2, 32})}});
}

TEST(SurgeonModelIo, BadFilesAreRefusedByName) {
  TempDir dir;
  CliResult r = run_kiln({"surgeon", "inspect", dir.file("missing.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(
      r.err, "kiln surgeon inspect: error: '" + dir.file("missing.onnx") + "' does not exist"))
      << r.err;
  write_file(dir.file("junk.onnx"), std::string("\xff\xff\xff\xff not protobuf"));
  r = run_kiln({"surgeon", "fold-bn", dir.file("junk.onnx"), "-o", dir.file("o.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "is not a valid ONNX model")) << r.err;
  // External data that is missing.
  auto m = make_model({make_node("Relu", {"w"}, {"y"}, "relu")}, {},
                      {value_info("y", P::FLOAT, {4})}, {float_initializer("w", {4}, wave(4))});
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(P::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("weights.bin");
  write_model(dir.file("ext.onnx"), m);
  r = run_kiln({"surgeon", "inspect", dir.file("ext.onnx")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "tensor 'w': cannot open external-data file")) << r.err;
  r = run_kiln({"surgeon", "fold-bn", dir.file("ext.onnx")});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--output is required")) << r.err;
}

}  // namespace
}  // namespace kiln::test
