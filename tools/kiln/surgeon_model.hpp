// Model I/O for `kiln surgeon`: reads an ONNX file into its protobuf message with every external
// tensor inlined, writes it back (spilling big weights to a `.data` file beside it when the model
// would not fit in one protobuf message), and parses the message into a kiln Network.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

// Protobuf cannot serialize a message of 2 GiB or more; a model that big keeps weights outside.
constexpr uint64_t kMaxInlineModelBytes = (uint64_t{2} << 30) - 1;
// Tensors smaller than this stay inline even when weights are written as external data.
constexpr uint64_t kMinExternalTensorBytes = 1024;

struct OnnxModel {
  ::onnx::ModelProto proto;
  std::string path;             // the file it was read from
  int64_t inlined_tensors = 0;  // tensors whose external data was read into the message
  uint64_t inlined_bytes = 0;
};

// Throws Error(kIo) for a missing file, Error(kInvalidModel) naming the file for one that is not
// a valid ONNX model or whose external data is missing or out of bounds.
OnnxModel read_onnx_model(const std::string& path);

struct WriteResult {
  uint64_t model_bytes = 0;
  std::string data_path;  // empty: every tensor is inline
  int64_t external_tensors = 0;
  uint64_t external_bytes = 0;
};

// Writes `model` to `path`. With `external_data`, or when the model is 2 GiB or more, every
// initializer of at least kMinExternalTensorBytes goes to `<path>.data` (same folder, referenced
// by file name), 64-byte aligned.
WriteResult write_onnx_model(::onnx::ModelProto model, const std::string& path, bool external_data);

// The model as kiln imports it (types and shapes inferred). `source` names it in errors.
// Throws Error(kUnsupported) listing every node kiln cannot import.
Network import_onnx_model(const ::onnx::ModelProto& model, const std::string& source);

// The types the model declares, plus kiln's inference where kiln can import the model (a model
// with ops kiln lacks keeps only its declarations).
TypeTable known_types(const ::onnx::ModelProto& model, const std::string& source);

// "wrote out.onnx (12.3 KB)" plus the data file when there is one.
std::string describe_write(const std::string& path, const WriteResult& w);

}  // namespace kiln::tools::surgeon
