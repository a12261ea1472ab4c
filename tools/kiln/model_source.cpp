// Opening models for the CLI: format detection, engine loading/building, graph loading.
#include "model_source.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "onnx/importer.hpp"
#include "plan/plan_file.hpp"

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
  return plan::looks_like_plan({head, static_cast<size_t>(f.gcount())}) ? ModelFormat::kPlan
                                                                        : ModelFormat::kOnnx;
}

std::unique_ptr<Engine> load_engine(const std::string& path, const BuilderConfig& config) {
  if (detect_model_format(path) == ModelFormat::kPlan) return Engine::load(path);
  return build_engine(parse_onnx_file(path), config);
}

ModelGraph load_model_graph(const std::string& path) {
  ModelGraph m;
  m.format = detect_model_format(path);
  m.file_bytes = std::filesystem::file_size(path);
  if (m.format == ModelFormat::kPlan) {
    plan::LoadedPlan p = plan::read_plan_file(path);
    m.graph = std::move(p.graph);
    m.memory = std::move(p.memory);
    m.host_tail = std::move(p.host_tail);
    m.host_tail_reason = std::move(p.host_tail_reason);
    m.backend = p.backend;
  } else {
    m.graph = onnx::import_model_file(path);
  }
  return m;
}

}  // namespace kiln::tools
