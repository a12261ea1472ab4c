// Error metrics of `kiln compare`: how far one runner's tensor is from the reference runner's
// (max/mean absolute error, max relative error, cosine similarity, NaN/Inf mismatches), and
// whether it meets the absolute/relative tolerances.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "kiln/tensor.hpp"

namespace kiln::tools {

struct Tolerance {
  double atol = 1e-5;
  double rtol = 1e-5;
};

// Polygraphy-like defaults for what the tested runner computes in: FP32 1e-5; TF32 matrix math
// 1e-3 (10-bit mantissa); FP16 1e-2 (errors of 11-bit storage add up over layers); BF16 5e-2.
Tolerance default_tolerance(Precision tested);

// Relative errors divide by max(|reference|, floor) so values near zero do not dominate: the
// floor is atol (an element that small passes on atol anyway), or 1e-12 when atol is 0.
double relative_error_floor(const Tolerance& tol);

struct TensorComparison {
  std::string name;
  std::string problem;  // non-empty when the tensors cannot be compared: dtype, shape, missing
  std::string dtype;    // the reference's, e.g. "float32"
  Shape shape;          // the reference's
  int64_t elements = 0;
  int64_t failing = 0;             // elements outside tolerance, NaN/Inf mismatches included
  int64_t nonfinite_mismatch = 0;  // a NaN or Inf where the other runner has something else
  double max_abs = 0;
  double max_rel = 0;
  double mean_abs = 0;
  double cosine = 1;
  // Relative L2 error ||a - ref|| / ||ref|| (infinite with a NaN/Inf mismatch), used to rank
  // layers.
  double rel_l2 = 0;
  int64_t worst_index = -1;  // flat index of the largest absolute error (or first mismatch)
  double worst_value = 0, worst_reference = 0;
  bool passed = false;
};

// Compares `got` (the tested runner's) with `reference`. An element passes when
// |got - ref| <= atol or |got - ref| / max(|ref|, floor) <= rtol; NaN matches NaN and an Inf the
// Inf of the same sign. Mismatched dtypes or shapes fail with `problem` set.
TensorComparison compare_tensors(const std::string& name, const Tensor& got,
                                 const Tensor& reference, const Tolerance& tol);

// A comparison that could not happen: the tensor is missing from one runner.
TensorComparison missing_tensor(const std::string& name, const std::string& problem);

// "[0,3,1]" for a flat index into `shape`.
std::string index_to_string(int64_t flat, const Shape& shape);

}  // namespace kiln::tools
