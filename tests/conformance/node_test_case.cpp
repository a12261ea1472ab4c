// Loading, running and comparing one ONNX node test case.
#include "node_test_case.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "backends/cpu/dispatch.hpp"
#include "core/error.hpp"
#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "onnx/tensor_proto.hpp"

namespace kiln::conformance {
namespace fs = std::filesystem;
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

::onnx::ModelProto read_model(const fs::path& p) {
  ::onnx::ModelProto m;
  if (!m.ParseFromString(read_file(p))) fail(ErrorCode::kInvalidModel, "cannot parse ", p.string());
  return m;
}

Tensor read_tensor(const fs::path& p) {
  ::onnx::TensorProto t;
  if (!t.ParseFromString(read_file(p))) fail(ErrorCode::kInvalidModel, "cannot parse ", p.string());
  return onnx::tensor_from_proto(t, p.parent_path().string(), p.filename().string());
}

double as_double(const Tensor& t, int64_t i) {
  return cpu::visit_dtype(t.dtype(), [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(cpu::load(t.data<T>()[i]));
  });
}

// ONNX's runner: numpy.testing.assert_allclose(expected, actual, rtol, atol), NaNs equal.
std::string compare(const Tensor& expected, const Tensor& actual, double rtol, double atol) {
  if (expected.dtype() != actual.dtype()) {
    return cat("dtype ", to_string(actual.dtype()), ", expected ", to_string(expected.dtype()));
  }
  if (expected.shape() != actual.shape()) {
    return cat("shape ", shape_to_string(actual.shape()), ", expected ",
               shape_to_string(expected.shape()));
  }
  bool exact = !is_floating(expected.dtype());
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double e = as_double(expected, i), a = as_double(actual, i);
    bool ok;
    if (std::isnan(e) || std::isnan(a)) {
      ok = std::isnan(e) && std::isnan(a);
    } else if (std::isinf(e) || std::isinf(a)) {
      ok = e == a;
    } else {
      ok = exact ? e == a : std::fabs(a - e) <= atol + rtol * std::fabs(e);
    }
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
      if (std::isfinite(a - e)) worst = std::max(worst, std::fabs(a - e));
    }
  }
  if (bad == 0) return "";
  return cat(bad, " of ", expected.numel(), " elements differ (max abs error ", worst,
             "; first at ", first, ": got ", as_double(actual, first), ", expected ",
             as_double(expected, first), ")");
}

std::pair<double, double> read_tolerance(const fs::path& dir) {
  double rtol = 1e-3, atol = 1e-7;
  std::ifstream f(dir / "tolerance.txt");
  if (f) f >> rtol >> atol;
  return {rtol, atol};
}

}  // namespace

std::string tested_op(const std::string& case_dir) {
  fs::path dir(case_dir);
  std::string name = dir.filename().string();
  auto pos = name.find("_expanded");
  if (pos != std::string::npos) {
    fs::path base = dir.parent_path() / name.substr(0, pos);
    if (fs::exists(base / "model.onnx")) return tested_op(base.string());
  }
  ::onnx::ModelProto m = read_model(dir / "model.onnx");
  if (m.graph().node_size() == 1) return m.graph().node(0).op_type();
  return "(" + name + ")";
}

CaseResult run_case(const std::string& case_dir) {
  fs::path dir(case_dir);
  CaseResult r;
  r.op = tested_op(case_dir);
  std::vector<fs::path> data_sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) {
      data_sets.push_back(e.path());
    }
  }
  std::sort(data_sets.begin(), data_sets.end());
  for (const auto& ds : data_sets) {
    for (const auto& e : fs::directory_iterator(ds)) {
      std::string ext = e.path().extension().string();
      if (ext == ".nontensor" || ext == ".unsupported") {
        r.outcome = Outcome::kUnsupported;
        r.detail = "uses sequence, optional or string values";
        return r;
      }
    }
  }
  std::unique_ptr<Engine> engine;
  try {
    Network net = parse_onnx_file((dir / "model.onnx").string());
    engine = build_engine(net, BuilderConfig{});
  } catch (const Error& e) {
    r.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
    r.detail = e.what();
    return r;
  }
  auto [rtol, atol] = read_tolerance(dir);
  for (const auto& ds : data_sets) {
    std::map<std::string, Tensor> feeds;
    std::vector<Tensor> expected;
    try {
      for (size_t i = 0; i < engine->inputs().size(); ++i) {
        feeds[engine->inputs()[i].name] = read_tensor(ds / cat("input_", i, ".pb"));
      }
      for (size_t i = 0; i < engine->outputs().size(); ++i) {
        expected.push_back(read_tensor(ds / cat("output_", i, ".pb")));
      }
    } catch (const Error& e) {
      r.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
      r.detail = cat("reading test data: ", e.what());
      return r;
    }
    std::vector<Tensor> actual;
    try {
      actual = engine->create_execution_context()->execute(feeds);
    } catch (const Error& e) {
      r.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
      r.detail = e.what();
      return r;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      std::string diff = compare(expected[i], actual.at(i), rtol, atol);
      if (!diff.empty()) {
        r.outcome = Outcome::kFailed;
        r.detail = cat(ds.filename().string(), " output ", i, " '", engine->outputs()[i].name,
                       "': ", diff);
        return r;
      }
    }
  }
  r.outcome = Outcome::kPassed;
  return r;
}

}  // namespace kiln::conformance
