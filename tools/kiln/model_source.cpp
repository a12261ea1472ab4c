// Opening models for the CLI: format detection, engine loading/building, inspection.
#include "model_source.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "kiln/error.hpp"

namespace kiln::tools {

ModelFormat detect_model_format(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(ErrorCode::kIo, "'", path, "' does not exist");
  if (!std::filesystem::is_regular_file(status)) {
    fail(ErrorCode::kIo, "'", path, "' is not a file");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorCode::kIo, "cannot open '", path, "': ", std::strerror(errno));
  char head[8] = {};
  f.read(head, sizeof(head));
  return looks_like_plan({head, static_cast<size_t>(f.gcount())}) ? ModelFormat::kPlan
                                                                  : ModelFormat::kOnnx;
}

std::unique_ptr<Engine> load_engine(const std::string& path, const BuilderConfig& config) {
  if (detect_model_format(path) == ModelFormat::kPlan) return Engine::load(path);
  return build_engine(parse_onnx_file(path), config);
}

ModelContents inspect_model(const std::string& path) {
  ModelContents m;
  m.format = detect_model_format(path);
  m.file_bytes = std::filesystem::file_size(path);
  if (m.format == ModelFormat::kPlan) {
    std::unique_ptr<Engine> engine = Engine::load(path);
    m.backend = engine->backend();
    m.info = inspect_engine(*engine);
  } else {
    m.info = inspect_network(parse_onnx_file(path));
  }
  return m;
}

std::string layer_phrase(const LayerInformation& layer) {
  return "node '" + layer.name + "' (" + (layer.domain.empty() ? "" : layer.domain + ".") +
         layer.op + ")";
}

}  // namespace kiln::tools
