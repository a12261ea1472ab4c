// Helpers for the `kiln surgeon` tests: attributes on hand-built nodes, reading a written model
// back, and running models on kiln's CPU backend to check an edit kept the outputs.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/tensor.hpp"
#include "onnx.pb.h"

namespace kiln::test {

void set_int_attr(::onnx::NodeProto& n, const std::string& name, int64_t v);
void set_float_attr(::onnx::NodeProto& n, const std::string& name, float v);
void set_ints_attr(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);

::onnx::ModelProto read_model(const std::string& path);
int count_ops(const ::onnx::ModelProto& m, const std::string& op);

// Deterministic float32 values in [-1, 1).
std::vector<float> wave(int64_t n, float phase = 0.f);
Tensor float_tensor(const std::vector<int64_t>& shape, float phase = 0.f);

// Runs the model on kiln's CPU backend.
std::vector<Tensor> run_model(const std::string& path, const std::map<std::string, Tensor>& inputs);
// Expects both models to give the same outputs (max abs difference <= tol) for `inputs`.
void expect_same_outputs(const std::string& a, const std::string& b,
                         const std::map<std::string, Tensor>& inputs, float tol = 1e-4f);

}  // namespace kiln::test
