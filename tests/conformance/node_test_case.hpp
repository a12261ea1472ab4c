// One ONNX backend node test case: load its model and data sets, run them through kiln, and
// compare with the expected outputs the way ONNX's own backend test runner does.
#pragma once

#include <string>

#include "kiln/kiln.hpp"

namespace kiln::conformance {

enum class Outcome { kPassed, kFailed, kUnsupported };

struct CaseResult {
  Outcome outcome = Outcome::kFailed;
  std::string op;      // the op the case tests
  std::string detail;  // why it failed or is unsupported
};

// The op type a case tests: its model's node op type, or for a function-expanded case (many
// nodes), the op of the case it expands.
std::string tested_op(const std::string& case_dir);

// Runs the case on `backend`. GPU engines need static shapes: each data set's engine is built
// for that data set's input shapes, in FP32 without TF32 (the reference outputs are exact).
CaseResult run_case(const std::string& case_dir, Backend backend = Backend::kCpu);

}  // namespace kiln::conformance
