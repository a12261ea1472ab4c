// `kiln run`: inputs from .npy files or random, shapes, output files, and every bad-input path
// ending in one error line and exit code 1 (2 for usage errors).
#include <gtest/gtest.h>

#include <filesystem>

#include "npy.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A failed run: exit code 1, exactly one "kiln run: error:" line, naming `part`.
void expect_run_error(const CliResult& r, const std::string& part) {
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_TRUE(r.err.starts_with("kiln run: error: ")) << r.err;
  EXPECT_TRUE(contains(r.err, part)) << r.err;
}

class RunCommand : public PassthroughModelTest {};

TEST_F(RunCommand, GivenInputsComeBackAsOutputFiles) {
  Tensor x = Tensor::from_vector(DataType::kFloat32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor m = Tensor::from_vector(DataType::kInt64, {2, 2}, std::vector<int64_t>{7, -8, 9, 10});
  tools::write_npy(dir_.file("x.npy"), x);
  tools::write_npy(dir_.file("m.npy"), m);
  std::string out_dir = dir_.file("out");
  CliResult r = run_kiln({"run", model_, "--input", "x=" + dir_.file("x.npy"), "--input",
                          "m=" + dir_.file("m.npy"), "--output-dir", out_dir});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "output x: float32[2,3] min 1 max 6 mean 3.5")) << r.out;
  EXPECT_TRUE(contains(r.out, "output m: int64[2,2] min -8 max 10")) << r.out;
  Tensor x2 = tools::read_npy(out_dir + "/x.npy");
  Tensor m2 = tools::read_npy(out_dir + "/m.npy");
  ASSERT_EQ(x2.shape(), x.shape());
  EXPECT_EQ(std::vector<float>(x2.data<float>(), x2.data<float>() + 6),
            std::vector<float>({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(std::vector<int64_t>(m2.data<int64_t>(), m2.data<int64_t>() + 4),
            std::vector<int64_t>({7, -8, 9, 10}));
}

TEST_F(RunCommand, RandomInputsAreSeededAndInRange) {
  auto run = [&](const std::string& seed, const std::string& sub) {
    CliResult r = run_kiln(
        {"run", model_, "--shape", "x=4x3", "--seed", seed, "--output-dir", dir_.file(sub)});
    EXPECT_EQ(r.code, 0) << r.err;
    return std::make_pair(tools::read_npy(dir_.file(sub) + "/x.npy"),
                          tools::read_npy(dir_.file(sub) + "/m.npy"));
  };
  auto [a, am] = run("5", "a");
  auto [b, bm] = run("5", "b");
  auto [c, cm] = run("6", "c");
  // The symbolic "batch" of m is bound by --shape x=4x3.
  ASSERT_EQ(a.shape(), Shape({4, 3}));
  ASSERT_EQ(am.shape(), Shape({4, 2}));
  auto floats = [](const Tensor& t) {
    return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
  };
  EXPECT_EQ(floats(a), floats(b));
  EXPECT_NE(floats(a), floats(c));
  for (float v : floats(a)) EXPECT_TRUE(v >= -1 && v <= 1) << v;
  for (int64_t i = 0; i < am.numel(); ++i) {
    EXPECT_TRUE(am.data<int64_t>()[i] >= 0 && am.data<int64_t>()[i] <= 3);
  }
}

TEST_F(RunCommand, SymbolicDimsDefaultToOneWithANote) {
  CliResult r = run_kiln({"run", model_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "note: input 'x' dimension 'batch' is not fixed; using 1")) << r.err;
  EXPECT_TRUE(contains(r.out, "output x: float32[1,3]")) << r.out;
  EXPECT_TRUE(contains(r.out, "output m: int64[1,2]")) << r.out;
}

TEST_F(RunCommand, RefusesUnknownInputName) {
  tools::write_npy(dir_.file("y.npy"), Tensor(DataType::kFloat32, {1, 3}));
  CliResult r = run_kiln({"run", model_, "--input", "y=" + dir_.file("y.npy")});
  expect_run_error(r, "'y', which is not an input of the model; its inputs are 'x', 'm'");
  expect_run_error(run_kiln({"run", model_, "--shape", "nope=1x3"}), "'nope'");
}

TEST_F(RunCommand, RefusesNpyOfWrongDtypeOrShape) {
  tools::write_npy(dir_.file("d.npy"), Tensor(DataType::kFloat64, {2, 3}));
  expect_run_error(run_kiln({"run", model_, "--input", "x=" + dir_.file("d.npy")}),
                   "input 'x' is float32 but '" + dir_.file("d.npy") + "' holds float64");
  tools::write_npy(dir_.file("s.npy"), Tensor(DataType::kFloat32, {2, 4}));
  expect_run_error(
      run_kiln({"run", model_, "--input", "x=" + dir_.file("s.npy")}),
      "input 'x' has shape [batch,3] but '" + dir_.file("s.npy") + "' has shape [2,4]");
  tools::write_npy(dir_.file("r.npy"), Tensor(DataType::kFloat32, {3}));
  expect_run_error(run_kiln({"run", model_, "--input", "x=" + dir_.file("r.npy")}), "[3]");
  // Two inputs that disagree on the size of "batch".
  tools::write_npy(dir_.file("x2.npy"), Tensor(DataType::kFloat32, {2, 3}));
  tools::write_npy(dir_.file("m5.npy"), Tensor(DataType::kInt64, {5, 2}));
  expect_run_error(
      run_kiln({"run", model_, "-i", "x=" + dir_.file("x2.npy"), "-i", "m=" + dir_.file("m5.npy")}),
      "dimension 'batch'");
  // --shape that contradicts the file.
  expect_run_error(run_kiln({"run", model_, "-i", "x=" + dir_.file("x2.npy"), "--shape", "x=3x3"}),
                   "disagrees");
}

TEST_F(RunCommand, RefusesMalformedNpy) {
  write_file(dir_.file("junk.npy"), std::string("this is not numpy data at all"));
  expect_run_error(run_kiln({"run", model_, "--input", "x=" + dir_.file("junk.npy")}),
                   "not a .npy file");
  // A valid header that promises more data than the file holds.
  tools::write_npy(dir_.file("short.npy"), Tensor(DataType::kFloat32, {2, 3}));
  std::vector<uint8_t> bytes = read_file(dir_.file("short.npy"));
  bytes.resize(bytes.size() - 4);
  write_file(dir_.file("short.npy"), bytes);
  expect_run_error(run_kiln({"run", model_, "--input", "x=" + dir_.file("short.npy")}),
                   "short.npy");
  expect_run_error(run_kiln({"run", model_, "--input", "x=" + dir_.file("absent.npy")}),
                   "absent.npy");
}

TEST_F(RunCommand, RefusesBadAndAbsurdShapes) {
  expect_run_error(run_kiln({"run", model_, "--shape", "x=2xfoo"}), "is not a shape");
  expect_run_error(run_kiln({"run", model_, "--shape", "x=4"}), "has shape [batch,3]");
  expect_run_error(run_kiln({"run", model_, "--shape", "x=1000000000x3"}), "GiB");
  expect_run_error(run_kiln({"run", model_, "--shape", "x=999999999999999999x3"}), "x");
  expect_run_error(run_kiln({"run", model_, "--shape", "x1x3"}), "NAME=VALUE");
  expect_run_error(run_kiln({"run", model_, "--shape", "x=1x3", "--shape", "x=2x3"}), "twice");
}

TEST_F(RunCommand, RefusesMissingNonModelAndCorruptPlanFiles) {
  expect_run_error(run_kiln({"run", dir_.file("missing.onnx")}), "missing.onnx' does not exist");
  write_file(dir_.file("text.onnx"), std::string("hello, I am a text file\n"));
  expect_run_error(run_kiln({"run", dir_.file("text.onnx")}), "text.onnx");
  expect_run_error(run_kiln({"run", dir_.path().string()}), "is not a file");

  std::string plan = dir_.file("pass.plan");
  ASSERT_EQ(run_kiln({"build", model_, "-o", plan}).code, 0);
  std::vector<uint8_t> bytes = read_file(plan);
  bytes[bytes.size() / 2] ^= 0x40;
  write_file(plan, bytes);
  expect_run_error(run_kiln({"run", plan}), "checksum");
  bytes.resize(bytes.size() / 3);
  write_file(plan, bytes);
  expect_run_error(run_kiln({"run", plan}), "truncated");
}

TEST_F(RunCommand, OutputFileNamesAreSanitized) {
  auto x = value_info("in/put:0", ::onnx::TensorProto::FLOAT, {2});
  std::string model = dir_.file("odd.onnx");
  write_model(model, make_model({}, {x}, {x}));
  CliResult r = run_kiln({"run", model, "--output-dir", dir_.file("o")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir_.file("o") + "/in_put_0.npy")) << r.out;
}

TEST_F(RunCommand, UsageErrorsExitWithTwo) {
  CliResult r = run_kiln({"run"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "kiln run: usage error")) << r.err;
  EXPECT_EQ(run_kiln({"run", model_, "--seed", "minus-one"}).code, 2);
  EXPECT_EQ(run_kiln({"frobnicate"}).code, 2);
  CliResult help = run_kiln({"run", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "Examples:")) << help.out;
}

}  // namespace
}  // namespace kiln::test
