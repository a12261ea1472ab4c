// The value helpers of values_as_double.hpp: rounding functions by dtype, and tensors read and
// written as doubles.
#include "backends/cpu/values_as_double.hpp"

namespace kiln::cpu {

RoundFn round_fn(DataType t) {
  switch (t) {
    case DataType::kFloat64:
      return round_to<double>;
    case DataType::kFloat16:
      return round_to<Half>;
    case DataType::kBFloat16:
      return round_to<BFloat16>;
    default:
      return round_to<float>;
  }
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(load(p[i]));
  });
  return v;
}

void from_doubles(Tensor& t, const std::vector<double>& v) {
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = store<T>(static_cast<compute_t<T>>(v[i]));
  });
}

}  // namespace kiln::cpu
