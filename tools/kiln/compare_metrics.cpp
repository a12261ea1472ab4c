// Error metrics for `kiln compare`, accumulated in double precision in one pass over the elements.
#include "compare_metrics.hpp"

#include <cmath>

#include "kiln/error.hpp"

namespace kiln::tools {
namespace {

std::vector<double> to_doubles(const Tensor& t) {
  Tensor wide = t.cast(DataType::kFloat64);
  const double* p = wide.data<double>();
  return std::vector<double>(p, p + wide.numel());
}

// Both NaN, or the same infinity: the runners agree.
bool same_nonfinite(double a, double r) {
  return (std::isnan(a) && std::isnan(r)) || (std::isinf(a) && a == r);
}

}  // namespace

Tolerance default_tolerance(Precision tested) {
  switch (tested) {
    case Precision::kFloat32:
      return {1e-5, 1e-5};
    case Precision::kTf32:
      return {1e-3, 1e-3};
    case Precision::kFloat16:
      return {1e-2, 1e-2};
    case Precision::kBFloat16:
      return {5e-2, 5e-2};
  }
  return {};
}

double relative_error_floor(const Tolerance& tol) {
  return tol.atol > 0 ? tol.atol : 1e-12;
}

std::string index_to_string(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    int64_t extent = std::max<int64_t>(shape[d], 1);
    idx[d] = flat % extent;
    flat /= extent;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? "," : "") + std::to_string(idx[d]);
  return s + "]";
}

TensorComparison missing_tensor(const std::string& name, const std::string& problem) {
  TensorComparison c;
  c.name = name;
  c.problem = problem;
  c.cosine = 0;
  return c;
}

TensorComparison compare_tensors(const std::string& name, const Tensor& got,
                                 const Tensor& reference, const Tolerance& tol) {
  TensorComparison c;
  c.name = name;
  c.dtype = std::string(to_string(reference.dtype()));
  c.shape = reference.shape();
  c.elements = reference.numel();
  if (got.dtype() != reference.dtype()) {
    c.problem = cat("dtype ", to_string(got.dtype()), " but the reference is ",
                    to_string(reference.dtype()));
    c.cosine = 0;
    return c;
  }
  if (got.shape() != reference.shape()) {
    c.problem = cat("shape ", shape_to_string(got.shape()), " but the reference has ",
                    shape_to_string(reference.shape()));
    c.cosine = 0;
    return c;
  }
  std::vector<double> a = to_doubles(got);
  std::vector<double> r = to_doubles(reference);
  double floor = relative_error_floor(tol);
  double sum_abs = 0, dot = 0, norm_a = 0, norm_r = 0, diff2 = 0;
  int64_t finite_pairs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(r[i])) {
      if (same_nonfinite(a[i], r[i])) continue;
      if (c.nonfinite_mismatch++ == 0) {  // a NaN/Inf mismatch is the worst element there is
        c.worst_index = static_cast<int64_t>(i);
        c.worst_value = a[i];
        c.worst_reference = r[i];
      }
      continue;
    }
    double d = std::abs(a[i] - r[i]);
    double rel = d / std::max(std::abs(r[i]), floor);
    if (!(d <= tol.atol || rel <= tol.rtol)) ++c.failing;
    if (c.nonfinite_mismatch == 0 && (c.worst_index < 0 || d > c.max_abs)) {
      c.worst_index = static_cast<int64_t>(i);
      c.worst_value = a[i];
      c.worst_reference = r[i];
    }
    c.max_abs = std::max(c.max_abs, d);
    c.max_rel = std::max(c.max_rel, rel);
    sum_abs += d;
    dot += a[i] * r[i];
    norm_a += a[i] * a[i];
    norm_r += r[i] * r[i];
    diff2 += d * d;
    ++finite_pairs;
  }
  c.failing += c.nonfinite_mismatch;
  c.mean_abs = finite_pairs ? sum_abs / static_cast<double>(finite_pairs) : 0;
  if (norm_a == 0 && norm_r == 0) {
    c.cosine = 1;
  } else if (norm_a == 0 || norm_r == 0) {
    c.cosine = 0;
  } else {
    c.cosine = dot / (std::sqrt(norm_a) * std::sqrt(norm_r));
  }
  if (c.nonfinite_mismatch) {
    c.rel_l2 = std::numeric_limits<double>::infinity();
  } else {
    c.rel_l2 = norm_r > 0 ? std::sqrt(diff2 / norm_r) : std::sqrt(diff2);
  }
  c.passed = c.failing == 0;
  return c;
}

}  // namespace kiln::tools
