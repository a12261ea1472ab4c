// Loading, running and comparing one ONNX node test case.
#include "node_test_case.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "backends/cpu/dispatch.hpp"
#include "core/error.hpp"
#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "onnx/tensor_proto.hpp"
#include "runtime/engine_impl.hpp"

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

// The names of the graph's inputs fed at run time (initializers listed as inputs excluded), in
// order: the data sets' input_K.pb files follow it.
std::vector<std::string> graph_input_names(const ::onnx::ModelProto& m) {
  std::set<std::string> initializers;
  for (const auto& t : m.graph().initializer()) initializers.insert(t.name());
  std::vector<std::string> names;
  for (const auto& in : m.graph().input()) {
    if (!initializers.count(in.name())) names.push_back(in.name());
  }
  return names;
}

// Makes the network's input shapes those of `feeds` (GPU engines need static shapes).
void fix_shapes(Network& net, const std::map<std::string, Tensor>& feeds) {
  ir::Graph& g = *net.impl().graph;
  for (ir::Value* v : g.inputs()) {
    auto it = feeds.find(v->name);
    if (it != feeds.end()) v->shape = ir::to_sym_shape(it->second.shape());
  }
  ir::infer_graph(g);
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

CaseResult run_case(const std::string& case_dir, Backend backend) {
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
  auto [rtol, atol] = read_tolerance(dir);
  // CPU engines take any input shapes, so one engine runs every data set; GPU engines are built
  // per data set, for its shapes.
  std::unique_ptr<Engine> engine;
  auto build = [&](const std::map<std::string, Tensor>* feeds) -> bool {
    try {
      Network net = parse_onnx_file((dir / "model.onnx").string());
      BuilderConfig config;
      config.backend = backend;
      if (backend != Backend::kCpu) {
        config.tf32 = false;
        // Correctness, not speed: level 2 runs every pass but times no tactics (the unit tests
        // check each tactic against the CPU), which keeps a case's build short.
        config.optimization_level = 2;
        fix_shapes(net, *feeds);
        for (const auto& [name, t] : *feeds) config.input_shapes[name] = t.shape();
      }
      engine = build_engine(net, config);
      return true;
    } catch (const Error& e) {
      r.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
      r.detail = e.what();
      return false;
    }
  };
  if (backend == Backend::kCpu && !build(nullptr)) return r;
  for (const auto& ds : data_sets) {
    std::map<std::string, Tensor> feeds;
    std::vector<Tensor> expected;
    try {
      ::onnx::ModelProto m = read_model(dir / "model.onnx");
      std::vector<std::string> input_names = graph_input_names(m);
      for (size_t i = 0; i < input_names.size(); ++i) {
        feeds[input_names[i]] = read_tensor(ds / cat("input_", i, ".pb"));
      }
      for (int i = 0; i < m.graph().output_size(); ++i) {
        expected.push_back(read_tensor(ds / cat("output_", i, ".pb")));
      }
    } catch (const Error& e) {
      r.outcome = e.code() == ErrorCode::kUnsupported ? Outcome::kUnsupported : Outcome::kFailed;
      r.detail = cat("reading test data: ", e.what());
      return r;
    }
    if (backend != Backend::kCpu && !build(&feeds)) return r;
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
