// ONNX Runtime through its Python package, in a subprocess with a scratch directory.
#include "compare_ort.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiln/error.hpp"
#include "npy.hpp"

namespace kiln::tools {

const char* const kOrtRunnerScript = R"PY(
import json, os, sys, tempfile

def main():
    manifest = json.load(open(sys.argv[1]))
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        sys.stderr.write(f"{e.name}\n")
        return 3
    source = manifest["model"]
    extra = manifest["extra_outputs"]
    if extra:
        model = onnx.load(source)
        types = {}
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
            for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
                if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
                    types[vi.name] = vi
        except Exception as e:  # models over 2 GB, or ones onnx cannot infer: use kiln's types
            sys.stderr.write(f"note: onnx shape inference failed ({e}); using kiln's types\n")
        existing = {o.name for o in model.graph.output}
        produced = {o for n in model.graph.node for o in n.output if o}
        for name, elem_type in extra:
            if name in existing or name not in produced:
                continue
            vi = types.get(name)
            if vi is None:
                vi = onnx.helper.make_tensor_value_info(name, elem_type, None)
            model.graph.output.append(vi)
        if model.ByteSize() < 2**31 - 1024:
            source = model.SerializeToString()
        else:
            source = os.path.join(manifest["output_dir"], "model.onnx")
            onnx.save(model, source, save_as_external_data=True, location="model.onnx.data")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    feeds = {name: np.load(path) for name, path in manifest["inputs"].items()}
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, feeds)
    written = []
    for i, (name, value) in enumerate(zip(names, values)):
        path = os.path.join(manifest["output_dir"], f"out_{i}.npy")
        np.save(path, np.ascontiguousarray(value))
        written.append([name, path])
    with open(manifest["result"], "w") as f:
        json.dump({"onnxruntime": ort.__version__, "outputs": written}, f)
    return 0

sys.exit(main())
)PY";

namespace {

// A fresh directory under the system's temp folder, removed with its contents when destroyed.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kiln-compare-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      fail(ErrorCode::kIo, "cannot create a scratch directory '", tmpl,
           "': ", std::strerror(errno));
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Single-quotes an argument for /bin/sh.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
}

// The last few lines of a subprocess's stderr (Python's traceback ends with the message), at most
// kMaxStderrChars of them; empty when it printed nothing.
constexpr size_t kMaxStderrChars = 2000;
std::string last_lines(std::string_view text, int count) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string_view::npos) return {};
  text = text.substr(0, end + 1);
  size_t start = text.size();
  for (int i = 0; i < count && start != std::string_view::npos; ++i) {
    start = start == 0 ? std::string_view::npos : text.rfind('\n', start - 1);
  }
  std::string_view tail = start == std::string_view::npos ? text : text.substr(start + 1);
  if (tail.size() <= kMaxStderrChars) return std::string(tail);
  return "..." + std::string(tail.substr(tail.size() - kMaxStderrChars));
}

// "exited with code 1", for messages about a subprocess that failed.
std::string how_it_ended(int status) {
  if (status == -1) return "could not be started";
  if (WIFEXITED(status)) return cat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return cat("was killed by signal ", WTERMSIG(status));
  return "ended abnormally";
}

// The result file the script writes: {"onnxruntime": VERSION, "outputs": [[NAME, PATH], ...]}.
bool is_readable_result(const nlohmann::json& result) {
  if (!result.is_object() || !result.contains("onnxruntime") || !result.contains("outputs") ||
      !result["onnxruntime"].is_string() || !result["outputs"].is_array()) {
    return false;
  }
  return std::all_of(result["outputs"].begin(), result["outputs"].end(), [](const auto& item) {
    return item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_string();
  });
}

constexpr const char* kInstallHint =
    "install it (pip install onnxruntime onnx numpy), name another interpreter with --python, "
    "or compare against saved outputs with --reference DIR";

}  // namespace

int onnx_elem_type(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return 1;
    case DataType::kUInt8:
      return 2;
    case DataType::kInt8:
      return 3;
    case DataType::kUInt16:
      return 4;
    case DataType::kInt16:
      return 5;
    case DataType::kInt32:
      return 6;
    case DataType::kInt64:
      return 7;
    case DataType::kBool:
      return 9;
    case DataType::kFloat16:
      return 10;
    case DataType::kFloat64:
      return 11;
    case DataType::kUInt32:
      return 12;
    case DataType::kUInt64:
      return 13;
    case DataType::kBFloat16:
      return 16;
    case DataType::kFloat8E4M3:
      return 17;
  }
  return 0;
}

RunnerResult run_onnxruntime(const std::string& python, const CompareModel& model,
                             const std::map<std::string, Tensor>& inputs,
                             const std::vector<ExtraTensor>& extra) {
  ScratchDir dir;
  nlohmann::json manifest;
  manifest["model"] = std::filesystem::absolute(model.path).string();
  manifest["output_dir"] = dir.file("");
  manifest["result"] = dir.file("result.json");
  manifest["inputs"] = nlohmann::json::object();
  int k = 0;
  for (const auto& [name, t] : inputs) {
    std::string path = dir.file(cat("in_", k++, ".npy"));
    write_npy(path, t);
    manifest["inputs"][name] = path;
  }
  manifest["extra_outputs"] = nlohmann::json::array();
  for (const ExtraTensor& e : extra) {
    manifest["extra_outputs"].push_back({e.name, onnx_elem_type(e.dtype)});
  }
  write_text(dir.file("manifest.json"), manifest.dump());
  write_text(dir.file("run_ort.py"), kOrtRunnerScript);

  std::string err_file = dir.file("stderr.txt");
  std::string command = cat(shell_quote(python), " ", shell_quote(dir.file("run_ort.py")), " ",
                            shell_quote(dir.file("manifest.json")), " >",
                            shell_quote(dir.file("stdout.txt")), " 2>", shell_quote(err_file));
  auto start = std::chrono::steady_clock::now();
  int status = std::system(command.c_str());
  double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int code = status == -1 ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  std::string err = read_text(err_file);
  if (code == 127 || code == 126) {
    fail(ErrorCode::kUnsupported, "runner ort: cannot run '", python,
         "' (not found or not executable); it needs Python 3 with onnxruntime: ", kInstallHint);
  }
  std::string said = last_lines(err, code == 3 ? 1 : 3);
  if (code == 3) {
    fail(ErrorCode::kUnsupported, "runner ort: '", python, "' has no Python package ",
         said.empty() ? std::string("it needs (onnxruntime, onnx or numpy)") : "'" + said + "'",
         "; ", kInstallHint);
  }
  if (code != 0) {
    fail(ErrorCode::kUnsupported, "runner ort: ONNX Runtime failed on '", model.path, "' ('",
         python, "' ", how_it_ended(status),
         said.empty() ? std::string(" and printed nothing)") : "): " + said);
  }
  nlohmann::json result = nlohmann::json::parse(read_text(dir.file("result.json")), nullptr,
                                                /*allow_exceptions=*/false);
  if (!is_readable_result(result)) {
    fail(ErrorCode::kInternal, "runner ort: '", python,
         "' exited with code 0 but wrote no readable result; is it a Python 3 interpreter?");
  }
  RunnerResult r;
  for (const auto& item : result["outputs"]) {
    r.tensors.emplace(item[0].get<std::string>(), read_npy(item[1].get<std::string>()));
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.3f s", run_s);
  r.detail = cat("onnxruntime ", result["onnxruntime"].get<std::string>(), " (CPU), ran in ", secs,
                 " with Python start-up");
  return r;
}

}  // namespace kiln::tools
