// Fuzz target: ONNX model bytes -> importer -> CPU engine build -> one run on zero inputs. Every
// input must end in an engine or a kiln::Error; a crash, a sanitizer report, an uncaught
// non-kiln exception or an allocation past the fuzzer's limit is a bug.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "fuzz_engine.hpp"
#include "onnx/importer.hpp"
#include "runtime/engine_impl.hpp"

namespace {

// The folder external-data locations resolve against: a private temporary folder holding one
// small file, "weights.bin" (the name the seed corpus uses), so external data is exercised
// without the input being able to reach any other file.
std::string g_model_dir;

void make_model_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "kiln-fuzz-onnx-XXXXXX").string();
  if (!mkdtemp(pattern.data())) abort();
  g_model_dir = pattern;
  std::ofstream weights(g_model_dir + "/weights.bin", std::ios::binary);
  for (int i = 0; i < 4096; ++i) weights.put(static_cast<char>(i * 31 % 251));
  atexit([] { std::filesystem::remove_all(g_model_dir); });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::fuzz::prepare_kiln_for_fuzzing();
  make_model_dir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<kiln::Engine> engine;
  try {
    auto network = std::make_unique<kiln::Network::Impl>();
    network->graph = kiln::onnx::import_model_bytes(bytes, g_model_dir, "fuzz input");
    kiln::BuilderConfig config;
    config.backend = kiln::Backend::kCpu;
    engine = kiln::build_engine(kiln::Network(std::move(network)), config);
  } catch (const kiln::Error&) {
    return 0;
  }
  kiln::fuzz::run_once_on_zeros(*engine);
  return 0;
}
