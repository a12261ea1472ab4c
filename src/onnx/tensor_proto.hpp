// Conversion between ONNX TensorProto and kiln tensors, bounds-checked against hostile input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "kiln/tensor.hpp"
#include "onnx.pb.h"

namespace kiln::onnx {

// The kiln dtype of an ONNX TensorProto.DataType code; nullopt where kiln has none (string,
// complex, int4, other fp8 variants).
std::optional<DataType> from_onnx_dtype(int32_t onnx_type);
int32_t to_onnx_dtype(DataType t);
std::string onnx_dtype_name(int32_t onnx_type);

// Where an external-data tensor's bytes are: a file inside `base_dir`, an offset and a length (-1
// when the proto gives none). The location must be a relative path without "..", and its real
// path (symbolic links resolved) must lie inside the real path of `base_dir`; offset and length
// must be plain decimal integers. Throws Error(kInvalidModel) naming `what` for a malformed or
// escaping reference.
struct ExternalDataRef {
  std::filesystem::path file;
  int64_t offset = 0;
  int64_t length = -1;
};
ExternalDataRef external_data_ref(const ::onnx::TensorProto& proto, const std::string& base_dir,
                                  const std::string& what);

// `base_dir` resolves external data; `what` names the tensor in errors ("initializer 'w'").
Tensor tensor_from_proto(const ::onnx::TensorProto& proto, const std::string& base_dir,
                         const std::string& what);
void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto& proto);

}  // namespace kiln::onnx
