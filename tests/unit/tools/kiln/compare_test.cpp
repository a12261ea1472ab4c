// `kiln compare`: kiln against ONNX Runtime and against saved outputs, the layerwise search for
// the first tensor that differs (a corrupted Transpose), precision bisection naming the one layer
// that breaks an FP16 build, JSON output, and every bad-input path ending in one error line.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "kiln/kiln.hpp"
#include "npy.hpp"
#include "tensor_summary.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

using json = nlohmann::json;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The ort runner needs python3 with onnxruntime; CI installs both (scripts/test.sh).
bool have_onnxruntime() {
  static const bool ok =
      std::system("python3 -c 'import onnxruntime, onnx, numpy' >/dev/null 2>&1") == 0;
  return ok;
}

// A failed comparison: exit code 1 and one "kiln compare: error:" line, the last, naming `part`
// (notes about inputs may come before it).
void expect_compare_error(const CliResult& r, const std::string& part) {
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  size_t at = r.err.find("kiln compare: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  EXPECT_TRUE(at == 0 || r.err[at - 1] == '\n') << r.err;
  std::string line = r.err.substr(at);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.err.ends_with("\n")) << r.err;
  EXPECT_TRUE(contains(line, part)) << r.err;
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

::onnx::AttributeProto ints_attr(const std::string& name, const std::vector<int64_t>& v) {
  ::onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(::onnx::AttributeProto::INTS);
  for (int64_t i : v) a.add_ints(i);
  return a;
}

std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// x[1,2,4,4] -> Relu (r) -> Transpose perm (t) -> Add bias (y). The spatial dims are square, so
// a wrong perm keeps every shape and only the values tell.
::onnx::ModelProto transpose_model(const std::vector<int64_t>& perm) {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {1, 2, 4, 4});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {1, 2, 4, 4});
  ::onnx::NodeProto transpose = make_node("Transpose", {"r"}, {"t"}, "transpose");
  *transpose.add_attribute() = ints_attr("perm", perm);
  return make_model({make_node("Relu", {"x"}, {"r"}, "relu"), transpose,
                     make_node("Add", {"t", "bias"}, {"y"}, "add")},
                    {x}, {y}, {float_initializer("bias", {1, 2, 1, 1}, {0.5f, -0.25f})});
}

// x[2,8] -> MatMul -> Relu -> y[2,4]: a small model every runner runs.
::onnx::ModelProto small_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, 8}, {"batch"});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {-1, 4}, {"batch"});
  return make_model(
      {make_node("MatMul", {"x", "w"}, {"h"}, "matmul"), make_node("Relu", {"h"}, {"y"}, "relu")},
      {x}, {y}, {float_initializer("w", {8, 4}, random_floats(32, -1, 1, 1))});
}

class CompareCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.file("small.onnx");
    write_model(model_, small_model());
  }
  TempDir dir_;
  std::string model_;
};

TEST_F(CompareCommand, KilnCpuMatchesOnnxRuntime) {
  if (!have_onnxruntime()) GTEST_SKIP() << "python3 with onnxruntime is not installed";
  std::string out = dir_.file("r.json");
  CliResult r = run_kiln({"compare", model_, "--shape", "x=3x8", "--json", out});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "runner     kiln-cpu (fp32)")) << r.out;
  EXPECT_TRUE(contains(r.out, "reference  ort: onnxruntime ")) << r.out;
  EXPECT_TRUE(contains(r.out, "tolerance  atol 1e-05, rtol 1e-05 (default for fp32)")) << r.out;
  EXPECT_TRUE(contains(r.out, "PASSED: every output of kiln-cpu (fp32) matches ort")) << r.out;
  json j = read_json(out);
  EXPECT_TRUE(j["passed"].get<bool>());
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["shape"], json::array({3, 4}));
  EXPECT_LE(j["outputs"][0]["max_abs_error"].get<double>(), 1e-5);
  EXPECT_GT(j["outputs"][0]["cosine_similarity"].get<double>(), 0.99999);
}

TEST_F(CompareCommand, LayerwiseAgainstOnnxRuntimeComparesEveryTensor) {
  if (!have_onnxruntime()) GTEST_SKIP() << "python3 with onnxruntime is not installed";
  std::string out = dir_.file("r.json");
  CliResult r = run_kiln({"compare", model_, "--layerwise", "--json", out});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "layerwise: all 2 tensors within tolerance")) << r.out;
  json j = read_json(out);
  ASSERT_EQ(j["layerwise"]["tensors"].size(), 2u);
  EXPECT_EQ(j["layerwise"]["tensors"][0]["name"], "h");
  EXPECT_EQ(j["layerwise"]["tensors"][0]["producer"], "node 'matmul' (MatMul)");
  EXPECT_TRUE(j["layerwise"]["first_failing"].is_null());
}

TEST_F(CompareCommand, SavedOutputsServeAsReferenceAndAChangedValueFails) {
  std::string saved = dir_.file("saved");
  Tensor x = Tensor::from_vector(DataType::kFloat32, {2, 8}, random_floats(16, -1, 1, 2));
  tools::write_npy(dir_.file("x.npy"), x);
  std::string input = "x=" + dir_.file("x.npy");
  // `kiln run --output-dir` writes the files --reference reads.
  CliResult first = run_kiln({"run", model_, "--input", input, "--output-dir", saved});
  ASSERT_EQ(first.code, 0) << first.err;
  CliResult same = run_kiln({"compare", model_, "--reference", saved, "--input", input});
  ASSERT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_TRUE(contains(same.out, "reference  files '" + saved + "': 1 outputs read")) << same.out;

  Tensor y = tools::read_npy(saved + "/y.npy");
  y.data<float>()[5] += 0.25f;  // element [1,1]
  tools::write_npy(saved + "/y.npy", y);
  CliResult r = run_kiln({"compare", model_, "--reference", saved, "--input", input});
  expect_compare_error(r, "1 of 1 output(s) of kiln-cpu (fp32) differ from files '" + saved +
                              "' beyond atol 1e-05, rtol 1e-05");
  EXPECT_TRUE(contains(r.out, "FAIL")) << r.out;
  EXPECT_TRUE(contains(r.out, "y: 1 of 8 elements beyond tolerance; worst at [1,1]")) << r.out;
}

TEST_F(CompareCommand, ShapeMismatchWithTheReferenceIsAFailureNamingBoth) {
  std::string ref = dir_.file("ref");
  std::filesystem::create_directories(ref);
  tools::write_npy(ref + "/y.npy", Tensor::from_vector(DataType::kFloat32, {1, 5},
                                                       std::vector<float>{1, 2, 3, 4, 5}));
  CliResult r = run_kiln({"compare", model_, "--reference", ref});
  expect_compare_error(r, "1 of 1 output(s)");
  EXPECT_TRUE(contains(r.out, "y: shape [1,4] but the reference has [1,5]")) << r.out;
}

// The reference files come from a model whose Transpose has the wrong perm: the layerwise walk
// passes the Relu and stops at the Transpose.
TEST(CompareLayerwise, FindsTheCorruptedTranspose) {
  TempDir dir;
  std::string model = dir.file("good.onnx");
  write_model(model, transpose_model({0, 1, 3, 2}));
  std::vector<float> xs = random_floats(32, -1, 1, 3);
  tools::write_npy(dir.file("x.npy"), Tensor::from_vector(DataType::kFloat32, {1, 2, 4, 4}, xs));
  // Reference tensors computed with perm {0, 1, 2, 3}: the transpose does nothing.
  std::vector<float> r(32), y(32);
  for (size_t i = 0; i < 32; ++i) {
    r[i] = std::max(xs[i], 0.0f);
    y[i] = r[i] + (i < 16 ? 0.5f : -0.25f);
  }
  std::string ref = dir.file("ref");
  std::filesystem::create_directories(ref);
  tools::write_npy(ref + "/r.npy", Tensor::from_vector(DataType::kFloat32, {1, 2, 4, 4}, r));
  tools::write_npy(ref + "/t.npy", Tensor::from_vector(DataType::kFloat32, {1, 2, 4, 4}, r));
  tools::write_npy(ref + "/y.npy", Tensor::from_vector(DataType::kFloat32, {1, 2, 4, 4}, y));
  std::string out = dir.file("r.json");
  CliResult res = run_kiln({"compare", model, "--layerwise", "--reference", ref, "--input",
                            "x=" + dir.file("x.npy"), "--json", out});
  expect_compare_error(res, "1 of 1 output(s)");
  EXPECT_TRUE(contains(res.out,
                       "layerwise: 2 of 3 tensors beyond tolerance; the first is 't' "
                       "(#2), the output of node 'transpose' (Transpose)"))
      << res.out;
  json j = read_json(out);
  ASSERT_EQ(j["layerwise"]["tensors"].size(), 3u);
  EXPECT_TRUE(j["layerwise"]["tensors"][0]["passed"].get<bool>());
  EXPECT_EQ(j["layerwise"]["first_failing"], "t");

  // The same model against reference files of itself passes every tensor.
  std::string saved = dir.file("saved");
  CliResult again = run_kiln({"compare", model, "--layerwise", "--reference", ref, "--input",
                              "x=" + dir.file("x.npy"), "--save-outputs", saved});
  EXPECT_EQ(again.code, 1);
  CliResult self = run_kiln({"compare", model, "--layerwise", "--reference", saved + "/kiln-cpu",
                             "--input", "x=" + dir.file("x.npy")});
  ASSERT_EQ(self.code, 0) << self.out << self.err;
  EXPECT_TRUE(contains(self.out, "layerwise: all 3 tensors within tolerance")) << self.out;
}

// x[1,64] -> mm_a -> relu -> mm_big (weights 2e4..4e4: outputs far past FP16's 65504) ->
// LayerNormalization (kept FP32 by the builder) -> mm_c -> y. In FP16, mm_big's output
// overflows to Inf and the LayerNorm makes NaN; keeping mm_big alone in FP32 fixes it.
::onnx::ModelProto overflow_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {1, 64});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {1, 8});
  ::onnx::NodeProto ln = make_node("LayerNormalization", {"b", "gamma", "beta"}, {"n"}, "ln");
  auto* axis = ln.add_attribute();
  axis->set_name("axis");
  axis->set_type(::onnx::AttributeProto::INT);
  axis->set_i(-1);
  return make_model(
      {make_node("MatMul", {"x", "wa"}, {"a"}, "mm_a"), make_node("Relu", {"a"}, {"r"}, "relu"),
       make_node("MatMul", {"r", "wbig"}, {"b"}, "mm_big"), ln,
       make_node("MatMul", {"n", "wc"}, {"y"}, "mm_c")},
      {x}, {y},
      {float_initializer("wa", {64, 64}, random_floats(64 * 64, -0.2f, 0.2f, 4)),
       float_initializer("wbig", {64, 64}, random_floats(64 * 64, 2e4f, 4e4f, 5)),
       float_initializer("gamma", {64}, std::vector<float>(64, 1.0f)),
       float_initializer("beta", {64}, std::vector<float>(64, 0.0f)),
       float_initializer("wc", {64, 8}, random_floats(64 * 8, -0.2f, 0.2f, 6))});
}

TEST(CompareBisectPrecision, NamesTheLayerThatOverflowsInFp16) {
  TempDir dir;
  std::string model = dir.file("overflow.onnx");
  write_model(model, overflow_model());
  // kiln's own FP32 build is the reference, saved first.
  std::string saved = dir.file("saved");
  ASSERT_EQ(run_kiln({"run", model, "--output-dir", saved}).code, 0);
  CliResult plain = run_kiln({"compare", model, "--reference", saved, "--fp16"});
  expect_compare_error(plain, "differ from");
  EXPECT_TRUE(contains(plain.out, "NaN/Inf mismatches")) << plain.out;

  std::string out = dir.file("b.json");
  CliResult r = run_kiln(
      {"compare", model, "--reference", saved, "--fp16", "--bisect-precision", "--json", out});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  json j = read_json(out);
  const json& b = j["bisect_precision"];
  EXPECT_TRUE(b["found"].get<bool>());
  EXPECT_TRUE(b["minimal"].get<bool>());
  // The MatMul's values overflow FP16, and so does the LayerNorm reading them: under --fp16 a
  // LayerNorm takes its neighbours' 16-bit I/O, so both must stay FP32.
  EXPECT_EQ(b["fp32_layers"], json::array({"mm_big", "ln"}));
  EXPECT_LE(b["builds"].get<int>(), 32);
  for (const json& o : b["outputs"]) EXPECT_TRUE(o["passed"].get<bool>()) << o.dump();
  std::string command = b["build_command"];
  EXPECT_EQ(command,
            "kiln build " + model +
                " --fp16 --precision-constraint ln=fp32 --precision-constraint mm_big=fp32");
  EXPECT_TRUE(contains(r.out, "keep in FP32 (2 of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "reproduce: " + command)) << r.out;

  // The reproduced build meets the tolerance on its own.
  CliResult check =
      run_kiln({"compare", model, "--reference", saved, "--fp16", "--precision-constraint",
                "mm_big=fp32", "--precision-constraint", "ln=fp32"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
}

TEST(CompareBisectPrecision, ABuildThatPassesNeedsNoFp32Layers) {
  TempDir dir;
  std::string model = dir.file("small.onnx");
  write_model(model, small_model());
  std::string saved = dir.file("saved");
  ASSERT_EQ(run_kiln({"run", model, "--output-dir", saved}).code, 0);
  CliResult r = run_kiln({"compare", model, "--reference", saved, "--fp16", "--bisect-precision"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "the build meets the tolerance as it is")) << r.out;
}

TEST(CompareBisectPrecision, AMismatchNotFromPrecisionIsReportedAsSuch) {
  TempDir dir;
  std::string model = dir.file("small.onnx");
  write_model(model, small_model());
  std::string saved = dir.file("saved");
  ASSERT_EQ(run_kiln({"run", model, "--output-dir", saved}).code, 0);
  Tensor y = tools::read_npy(saved + "/y.npy");
  for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] += 1.0f;
  tools::write_npy(saved + "/y.npy", y);
  CliResult r = run_kiln({"compare", model, "--reference", saved, "--fp16", "--bisect-precision"});
  expect_compare_error(r, "precision bisection found no set of FP32 layers");
  EXPECT_TRUE(contains(r.out, "does not come from reduced precision")) << r.out;
}

TEST_F(CompareCommand, BadOptionsGiveOneClearError) {
  expect_compare_error(run_kiln({"compare", model_, "--runners", "kiln-cpu,trt"}),
                       "unknown runner 'trt'; the runners are kiln-cpu, kiln-cuda and ort");
  expect_compare_error(run_kiln({"compare", model_, "--runners", "kiln-cpu"}),
                       "give two, the one to test and the reference");
  expect_compare_error(run_kiln({"compare", model_, "--runners", "kiln-cpu,kiln-cpu"}),
                       "--runners names 'kiln-cpu' twice");
  expect_compare_error(run_kiln({"compare", model_, "--runners", "ort,kiln-cpu", "--fp16"}),
                       "it is 'ort', not a kiln runner");
  expect_compare_error(run_kiln({"compare", model_, "--bisect-precision"}), "add --fp16 or --bf16");
  expect_compare_error(run_kiln({"compare", model_, "--fp16", "--bf16"}),
                       "give --fp16 or --bf16, not both");
  expect_compare_error(run_kiln({"compare", model_, "--precision-constraint", "matmul"}),
                       "--precision-constraint 'matmul': expected LAYER=PRECISION");
  expect_compare_error(run_kiln({"compare", model_, "--reference", dir_.file("none")}),
                       "--reference '" + dir_.file("none") + "' is not a directory");
  expect_compare_error(run_kiln({"compare", model_, "--reference", dir_.path().string(),
                                 "--runners", "kiln-cpu,ort"}),
                       "--runners names one runner to test, not 2");
  expect_compare_error(run_kiln({"compare", model_, "--reference", dir_.path().string()}),
                       "has no file for output 'y'");
  expect_compare_error(run_kiln({"compare", dir_.file("missing.onnx")}), "does not exist");
  expect_compare_error(run_kiln({"compare", model_, "--json", dir_.file("no/such/r.json")}),
                       "folder '" + dir_.file("no/such") + "' does not exist");
  expect_compare_error(run_kiln({"compare", model_, "--input", "z=" + dir_.file("z.npy")}),
                       "'z', which is not an input of the model");

  CliResult usage = run_kiln({"compare", model_, "--atol", "-1"});
  EXPECT_EQ(usage.code, 2) << usage.err;
}

TEST_F(CompareCommand, APlanIsRefusedNamingTheOnnxModel) {
  std::string plan = dir_.file("small.plan");
  ASSERT_EQ(run_kiln({"build", model_, "-o", plan}).code, 0);
  expect_compare_error(run_kiln({"compare", plan}), "compare takes the ONNX model");
}

TEST_F(CompareCommand, OrtRunnerWithoutPythonSaysWhatToInstall) {
  expect_compare_error(
      run_kiln({"compare", model_, "--python", dir_.file("no-python")}),
      "runner ort: cannot run '" + dir_.file("no-python") + "' (not found or not executable)");
  // An interpreter without the package: a shell script standing in for Python.
  std::string fake = dir_.file("fake-python");
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\necho onnxruntime >&2\nexit 3\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  expect_compare_error(run_kiln({"compare", model_, "--python", fake}),
                       "has no Python package 'onnxruntime'; install it (pip install onnxruntime");
}

// A stand-in for Python: a shell script run as `fake run_ort.py manifest.json`.
std::string fake_python(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.file(name);
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

TEST_F(CompareCommand, OrtRunnerThatFailsSilentlyIsNamed) {
  // It used to end as "basic_string::substr": the message took the last lines of empty stderr.
  std::string silent = fake_python(dir_, "silent", "exit 1");
  expect_compare_error(run_kiln({"compare", model_, "--python", silent}),
                       "runner ort: ONNX Runtime failed on '" + model_ + "' ('" + silent +
                           "' exited with code 1 and printed nothing)");
  std::string no_package = fake_python(dir_, "no-package", "exit 3");
  expect_compare_error(run_kiln({"compare", model_, "--python", no_package}),
                       "has no Python package it needs (onnxruntime, onnx or numpy)");
  std::string blank = fake_python(dir_, "blank", "echo >&2; echo '  ' >&2; exit 2");
  expect_compare_error(run_kiln({"compare", model_, "--python", blank}),
                       "exited with code 2 and printed nothing");
  std::string talks = fake_python(dir_, "talks", "printf 'a\\nb\\nc\\nd\\n' >&2; exit 1");
  // The last three lines of what it printed, as Python's traceback ends with the message.
  CliResult r = run_kiln({"compare", model_, "--python", talks});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "exited with code 1): b\nc\nd\n")) << r.err;
  EXPECT_FALSE(contains(r.err, "a\nb")) << r.err;
}

TEST_F(CompareCommand, OrtRunnerOutputIsBoundedAndChecked) {
  std::string loud = fake_python(dir_, "loud", "head -c 100000 /dev/zero | tr '\\0' a >&2; exit 1");
  CliResult r = run_kiln({"compare", model_, "--python", loud});
  expect_compare_error(r, "exited with code 1): ...aaaa");
  EXPECT_LT(r.err.size(), 3000u);
  // Exit code 0 with a result file of the wrong shape, or none at all.
  for (const std::string& result :
       {"", "[]", "{\"outputs\": 5}", "{\"onnxruntime\": \"1\", \"outputs\": [[1, 2]]}"}) {
    std::string odd = fake_python(
        dir_, "odd", "echo '" + result + "' > \"$(dirname \"$2\")/result.json\"; exit 0");
    expect_compare_error(run_kiln({"compare", model_, "--python", odd}),
                         "exited with code 0 but wrote no readable result");
  }
}

TEST_F(CompareCommand, HelpHasExamplesAndTolerances) {
  CliResult r = run_kiln({"compare", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "Examples:")) << r.out;
  EXPECT_TRUE(contains(r.out, "--bisect-precision")) << r.out;
  EXPECT_TRUE(contains(r.out, "fp16 1e-2")) << r.out;
}

TEST_F(CompareCommand, CudaRunnerWithoutDeviceFailsClearly) {
  if (backend_available(Backend::kCuda)) GTEST_SKIP() << "CompareCommandGpu runs it on the device";
  expect_compare_error(run_kiln({"compare", model_, "--runners", "kiln-cuda,kiln-cpu"}),
                       backend_built(Backend::kCuda)
                           ? "runner kiln-cuda: no CUDA device is available on this machine"
                           : "this kiln build has no CUDA backend");
}

TEST(CompareCommandGpu, CudaMatchesCpuInFp32AndFp16) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  std::string model = dir.file("small.onnx");
  write_model(model, small_model());
  CliResult r = run_kiln(
      {"compare", model, "--runners", "kiln-cuda,kiln-cpu", "--shape", "x=16x8", "--no-tf32"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "runner     kiln-cuda (fp32)")) << r.out;
  CliResult h = run_kiln({"compare", model, "--runners", "kiln-cuda,kiln-cpu", "--shape", "x=16x8",
                          "--fp16", "--layerwise"});
  EXPECT_EQ(h.code, 0) << h.out << h.err;
  EXPECT_TRUE(contains(h.out, "tolerance  atol 0.01, rtol 0.01 (default for fp16)")) << h.out;
}

}  // namespace
}  // namespace kiln::test
