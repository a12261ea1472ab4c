// Runs one op on the CUDA backend and on the CPU reference with the same random inputs and
// compares the results. Every CUDA kernel family has a table of cases run through this; tests
// skip (reported as skipped) where no GPU is present.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/attribute.hpp"
#include "kiln/tensor.hpp"

namespace kiln::test {

struct GpuInput {
  DataType dtype = DataType::kFloat32;
  Shape shape;
  bool constant = false;          // a weight (initializer) rather than a runtime input
  std::vector<double> values;     // fixed contents (e.g. shapes, axes); random when empty
  double low = -1.0, high = 1.0;  // range of random values
  bool omitted = false;           // an omitted optional input (an empty slot in the node)
  // Values that replace the random ones at these flat indices (NaN, infinities).
  std::vector<std::pair<int64_t, double>> specials;
};

struct GpuCase {
  std::string name;  // shown in test output, e.g. "Relu fp16 [2,3,4]"
  std::string op;
  ir::Attributes attrs;
  std::vector<GpuInput> inputs;
  size_t num_outputs = 1;
  double rtol = 1e-4;  // for float outputs; integer and bool outputs must match exactly
  double atol = 1e-5;
  bool tf32 = false;  // FP32 layers may use TF32 products (give the tolerance for that)
  // The CUDA layer's pinned tactic (BuilderConfig::tactics), "" for the default choice.
  std::string tactic;
};

// A dtype a kernel table runs in and the tolerance its comparisons use there.
struct Precision {
  DataType dtype;
  const char* name;  // "fp32", "fp16", "bf16"
  double rtol, atol;
};

// True when a CUDA device is usable (the tests GTEST_SKIP otherwise).
bool gpu_available();

// Empty string on a match; otherwise what differs (output, index, values).
std::string compare_cuda_with_cpu(const GpuCase& c, uint64_t seed = 1);

}  // namespace kiln::test
