// What the subcommands accept as a model: an ONNX file or a kiln plan, told apart by the plan's
// magic bytes rather than the file name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/inspector.hpp"
#include "kiln/kiln.hpp"

namespace kiln::tools {

enum class ModelFormat { kOnnx, kPlan };

// Throws Error(kIo) naming the path if it does not exist or is not a readable file.
ModelFormat detect_model_format(const std::string& path);

// A plan is loaded as is; an ONNX model is imported and built in memory with `config`.
std::unique_ptr<Engine> load_engine(const std::string& path, const BuilderConfig& config);

// What a model holds, for inspection: a plan's engine as built, or the network the importer
// makes of an ONNX model (not yet built).
struct ModelContents {
  ModelFormat format = ModelFormat::kOnnx;
  Backend backend = Backend::kCpu;  // plans only
  EngineInformation info;
  uint64_t file_bytes = 0;
};
ModelContents inspect_model(const std::string& path);

// "node 'conv1' (Conv)", "node 'nms' (custom.NMS)": how kiln's messages name a layer.
std::string layer_phrase(const LayerInformation& layer);

}  // namespace kiln::tools
