// The ONNX Runtime runner of `kiln compare`: runs the onnxruntime Python package in a subprocess
// (inputs and outputs travel as .npy files through a scratch directory), so kiln needs no
// ONNX Runtime library to link against.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compare_runners.hpp"

namespace kiln::tools {

// The script the runner hands to Python. It reads a JSON manifest (model, input files, extra
// tensors to mark as outputs with their ONNX types, where to write results), runs ONNX Runtime
// on the CPU and writes every output as .npy plus a result JSON naming them. Exit code 3: a
// Python package is missing (named on stderr).
extern const char* const kOrtRunnerScript;

// Runs `model` through ONNX Runtime with `python`. Extra tensors are added to the ONNX graph's
// outputs (typed by onnx shape inference, else by `ExtraTensor::dtype`); ones the ONNX graph does
// not produce are left out. Throws Error saying what to install when Python or a package is
// missing, and ONNX Runtime's message when it fails.
RunnerResult run_onnxruntime(const std::string& python, const CompareModel& model,
                             const std::map<std::string, Tensor>& inputs,
                             const std::vector<ExtraTensor>& extra);

// The ONNX TensorProto element type of a kiln dtype.
int onnx_elem_type(DataType dtype);

}  // namespace kiln::tools
