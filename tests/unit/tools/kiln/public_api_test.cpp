// tools/kiln is built on the public API: every file includes only include/kiln headers, its own
// headers and system headers. The one exception is `kiln surgeon` (surgeon*.cpp/hpp), an ONNX-level
// editor like onnx-graphsurgeon, which may also include kiln's ONNX layer (src/onnx) and the ONNX
// protobuf. A file outside it must not reach those through a tool header either.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

// The tool's files by name, with their text.
using SourceFiles = std::map<std::string, std::string>;

// Headers of libraries the tool must not use directly, in angle brackets (kiln's internals use
// them; the public API hides them). The surgeon may read ONNX protobufs.
const std::vector<std::string> kPrivateLibraries = {
    "google/protobuf/", "flatbuffers/", "dnnl", "cudnn", "cublas", "nvrtc"};

bool is_onnx_level(const std::string& file) {
  return file.starts_with("surgeon");
}

struct Include {
  std::string path;
  bool quoted = false;
};

std::vector<Include> includes_of(const std::string& text) {
  static const std::regex kInclude(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<Include> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kInclude)) out.push_back({m[2].str(), m[1].str() == "\""});
  }
  return out;
}

// Every include that breaks the rules, as "FILE: includes PATH (why)". `public_headers` are the
// names under include/ ("kiln/kiln.hpp"), `onnx_headers` those under src/ ("onnx/importer.hpp").
std::vector<std::string> include_violations(const SourceFiles& files,
                                            const std::set<std::string>& public_headers,
                                            const std::set<std::string>& onnx_headers) {
  std::vector<std::string> out;
  for (const auto& [file, text] : files) {
    bool onnx_level = is_onnx_level(file);
    for (const Include& inc : includes_of(text)) {
      std::string why;
      if (!inc.quoted) {
        for (const std::string& lib : kPrivateLibraries) {
          bool protobuf_ok = onnx_level && lib == "google/protobuf/";
          if (inc.path.starts_with(lib) && !protobuf_ok) why = "a library kiln's API hides";
        }
      } else if (files.count(inc.path)) {
        if (!onnx_level && is_onnx_level(inc.path) && inc.path != "surgeon.hpp") {
          why = "the surgeon's ONNX-level header";  // surgeon.hpp: its CLI options alone
        }
      } else if (public_headers.count(inc.path)) {
        continue;
      } else if (onnx_level && (onnx_headers.count(inc.path) || inc.path == "onnx.pb.h")) {
        continue;
      } else {
        why = onnx_level ? "neither public nor kiln's ONNX layer" : "not a public header";
      }
      if (!why.empty()) out.push_back(file + ": includes " + inc.path + " (" + why + ")");
    }
  }
  return out;
}

std::set<std::string> headers_under(const fs::path& root, const std::string& sub) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root / sub)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).generic_string());
  }
  return out;
}

TEST(ToolIncludes, RulesCatchInternalHeaders) {
  SourceFiles files = {
      {"run.cpp", "#include \"kiln/kiln.hpp\"\n#include \"npy.hpp\"\n#include <vector>\n"},
      {"npy.hpp", "#include \"kiln/tensor.hpp\"\n"},
      {"bench.cpp", "// ok\n  #include \"runtime/engine_impl.hpp\"\n"},
      {"inspect.cpp", "#include \"onnx/importer.hpp\"\n#include \"onnx.pb.h\"\n"},
      {"build.cpp", "#include \"surgeon_model.hpp\"\n#include \"surgeon.hpp\"\n"},
      {"compare.cpp", "#include <google/protobuf/io/coded_stream.h>\n#include <dnnl.hpp>\n"},
      {"surgeon.hpp", "#include <CLI/CLI.hpp>\n"},
      {"surgeon_model.hpp", "#include \"onnx.pb.h\"\n#include \"onnx/importer.hpp\"\n"},
      {"surgeon_model.cpp", "#include <google/protobuf/io/coded_stream.h>\n"},
      {"surgeon_sanitize.cpp", "#include \"passes/passes.hpp\"\n#include \"kiln/simplify.hpp\"\n"},
      {"surgeon_fold_bn.cpp", "#include \"onnx/made_up.hpp\"\n"},
  };
  std::set<std::string> public_headers = {"kiln/kiln.hpp", "kiln/tensor.hpp", "kiln/simplify.hpp"};
  std::set<std::string> onnx_headers = {"onnx/importer.hpp"};
  std::vector<std::string> want = {
      "bench.cpp: includes runtime/engine_impl.hpp (not a public header)",
      "build.cpp: includes surgeon_model.hpp (the surgeon's ONNX-level header)",
      "compare.cpp: includes dnnl.hpp (a library kiln's API hides)",
      "compare.cpp: includes google/protobuf/io/coded_stream.h (a library kiln's API hides)",
      "inspect.cpp: includes onnx.pb.h (not a public header)",
      "inspect.cpp: includes onnx/importer.hpp (not a public header)",
      "surgeon_fold_bn.cpp: includes onnx/made_up.hpp (neither public nor kiln's ONNX layer)",
      "surgeon_sanitize.cpp: includes passes/passes.hpp (neither public nor kiln's ONNX layer)",
  };
  std::vector<std::string> got = include_violations(files, public_headers, onnx_headers);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
}

TEST(ToolIncludes, ToolsUseThePublicApiOnly) {
  fs::path source = KILN_TEST_SOURCE_DIR;
  SourceFiles files;
  for (const auto& e : fs::directory_iterator(source / "tools" / "kiln")) {
    std::string ext = e.path().extension().string();
    if (ext != ".cpp" && ext != ".hpp") continue;
    std::ifstream f(e.path());
    std::stringstream text;
    text << f.rdbuf();
    files[e.path().filename().string()] = text.str();
  }
  ASSERT_GT(files.size(), 30u) << "tools/kiln not found under " << source;
  std::set<std::string> onnx_headers = headers_under(source / "src", "onnx");
  std::vector<std::string> violations =
      include_violations(files, headers_under(source / "include", "kiln"), onnx_headers);
  std::string list;
  for (const std::string& v : violations) list += "\n  " + v;
  EXPECT_TRUE(violations.empty()) << "tools/kiln reaches past the public API:" << list;
}

}  // namespace
}  // namespace kiln::test
