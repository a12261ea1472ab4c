// Helpers for the CUDA kernel tables: case builders with per-dtype tolerances, the registry of
// tables, and the loop that runs a table and reports every mismatching case by name.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "unit/backends/cuda/gpu_test_util.hpp"
#include "unit/passes/pass_test_util.hpp"  // attrs()

namespace kiln::test {

inline std::string dtype_name(DataType t) {
  return std::string(to_string(t));
}

// Tolerances: fp32/fp64 tight, fp16 and bf16 a few ulps of their precision.
inline void set_tolerance(GpuCase& c, DataType t) {
  if (t == DataType::kFloat16) {
    c.rtol = 2e-3;
    c.atol = 2e-3;
  } else if (t == DataType::kBFloat16) {
    c.rtol = 2e-2;
    c.atol = 2e-2;
  }
}

inline GpuInput input(DataType t, Shape s, double low = -1.0, double high = 1.0) {
  GpuInput in;
  in.dtype = t;
  in.shape = std::move(s);
  in.low = low;
  in.high = high;
  return in;
}

inline GpuInput constant(DataType t, Shape s, std::vector<double> values) {
  GpuInput in;
  in.dtype = t;
  in.shape = std::move(s);
  in.constant = true;
  in.values = std::move(values);
  return in;
}

inline GpuCase make_case(const std::string& op, std::vector<GpuInput> inputs,
                         ir::Attributes attrs = {}, size_t outputs = 1) {
  GpuCase c;
  c.op = op;
  c.attrs = std::move(attrs);
  c.num_outputs = outputs;
  c.name = op;
  for (const GpuInput& in : inputs) {
    c.name += " " + dtype_name(in.dtype) + shape_to_string(in.shape);
  }
  set_tolerance(c, inputs.empty() ? DataType::kFloat32 : inputs[0].dtype);
  c.inputs = std::move(inputs);
  return c;
}

// A GPU test's table of cases, built when asked for. Every table registers itself, so a test can
// walk all of them: op_table_cuda_coverage_test.cpp holds every op of the op table to a case.
class GpuCaseTable {
 public:
  using Builder = std::vector<GpuCase> (*)();
  GpuCaseTable(std::string name, Builder build) : name_(std::move(name)), build_(build) {
    registry().push_back(this);
  }
  GpuCaseTable(const GpuCaseTable&) = delete;
  GpuCaseTable& operator=(const GpuCaseTable&) = delete;

  const std::string& name() const { return name_; }
  std::vector<GpuCase> cases() const { return build_(); }
  static const std::vector<const GpuCaseTable*>& all() { return registry(); }

 private:
  static std::vector<const GpuCaseTable*>& registry() {
    static std::vector<const GpuCaseTable*> tables;
    return tables;
  }
  std::string name_;
  Builder build_;
};

// Runs every case. Without a GPU the CPU reference still runs, so a table row the reference
// rejects (a wrong shape or attribute) fails in CI too; then the test is skipped.
inline void run_table(const std::vector<GpuCase>& cases) {
  const bool gpu = gpu_available();
  int failures = 0;
  for (const GpuCase& c : cases) {
    std::string diff = compare_cuda_with_cpu(c);
    // Without a GPU the CUDA engine fails to run, unless every layer runs on the host (a host
    // tail); then it must match as well.
    bool ok = diff.empty() || (!gpu && diff.rfind("CUDA failed", 0) == 0);
    if (!ok) {
      ADD_FAILURE() << c.name << ": " << diff;
      ++failures;
    }
  }
  if (!gpu) GTEST_SKIP() << "no CUDA device (the CPU reference ran every case)";
  std::cout << cases.size() - failures << "/" << cases.size() << " cases match\n";
}

inline void run_table(const GpuCaseTable& table) {
  run_table(table.cases());
}

}  // namespace kiln::test
