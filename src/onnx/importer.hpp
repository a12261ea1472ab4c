// ONNX model -> kiln graph.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ir/graph.hpp"

namespace kiln::onnx {

// Opsets of the default domain kiln imports.
constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 28;
// Largest model file read (protobuf cannot parse a message over 2 GiB; bigger models keep their
// weights in external data files, which are mapped, not read).
constexpr uint64_t kMaxModelFileBytes = (uint64_t{2} << 30) - 1;

std::unique_ptr<ir::Graph> import_model_file(const std::string& path);
// `base_dir` resolves external data; `source` names the model in errors.
std::unique_ptr<ir::Graph> import_model_bytes(std::string_view bytes, const std::string& base_dir,
                                              const std::string& source);

}  // namespace kiln::onnx
