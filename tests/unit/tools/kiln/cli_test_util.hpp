// Helpers for the `kiln` CLI tests: run the tool in-process with captured output, and write small
// ONNX models through the protobuf classes; a fixture holding the passthrough model.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kiln/tensor.hpp"
#include "onnx.pb.h"
#include "unit/temp_dir_util.hpp"

namespace kiln::test {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `kiln ARGS...` through kiln_main.
CliResult run_kiln(const std::vector<std::string>& args);

// A graph input/output declaration; dims < 0 are symbolic, named by `symbols` (or anonymous).
::onnx::ValueInfoProto value_info(const std::string& name, int elem_type,
                                  const std::vector<int64_t>& dims,
                                  const std::vector<std::string>& symbols = {});
::onnx::ModelProto make_model(const std::vector<::onnx::NodeProto>& nodes,
                              const std::vector<::onnx::ValueInfoProto>& inputs,
                              const std::vector<::onnx::ValueInfoProto>& outputs,
                              const std::vector<::onnx::TensorProto>& initializers = {},
                              int opset = 17);
::onnx::NodeProto make_node(const std::string& op, const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs, const std::string& name = "");
::onnx::TensorProto float_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                      const std::vector<float>& values);
void write_model(const std::string& path, const ::onnx::ModelProto& model);

// A model with no layers whose outputs are its inputs: x float32[batch,3] and m int64[batch,2].
// It runs on any build, whatever ops exist, so CLI plumbing is testable on its own.
::onnx::ModelProto passthrough_model();

// A test with a scratch folder holding passthrough_model() at model_.
class PassthroughModelTest : public ::testing::Test {
 protected:
  void SetUp() override;
  TempDir dir_;
  std::string model_;
};

}  // namespace kiln::test
