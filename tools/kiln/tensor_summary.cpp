// Tensor statistics in double precision, over every element converted to float64.
#include "tensor_summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "kiln/error.hpp"

namespace kiln::tools {
namespace {

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

}  // namespace

TensorSummary summarize(const Tensor& t, size_t first_count) {
  TensorSummary s;
  double sum = 0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  // Every element as a double, converted as a Cast to float64 would.
  const Tensor values = t.cast(DataType::kFloat64);
  const double* v = values.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (std::isnan(v[i])) {
      ++s.nan;
    } else if (std::isinf(v[i])) {
      ++s.inf;
    } else {
      ++s.finite;
      sum += v[i];
      s.min = std::min(s.min, v[i]);
      s.max = std::max(s.max, v[i]);
    }
  }
  // The first values as text: floats as %.6g, integers exactly (through a 64-bit copy of them).
  const size_t head = std::min(first_count, static_cast<size_t>(t.numel()));
  if (is_floating(t.dtype())) {
    for (size_t i = 0; i < head; ++i) s.first.push_back(format_double(v[i]));
  } else {
    const bool is_unsigned = is_unsigned_integer(t.dtype());
    Tensor first =
        Tensor::borrow(t.dtype(), {static_cast<int64_t>(head)}, const_cast<void*>(t.raw()), nullptr)
            .cast(is_unsigned ? DataType::kUInt64 : DataType::kInt64);
    for (size_t i = 0; i < head; ++i) {
      s.first.push_back(is_unsigned ? std::to_string(first.data<uint64_t>()[i])
                                    : std::to_string(first.data<int64_t>()[i]));
    }
  }
  if (s.finite == 0) {
    s.min = s.max = 0;
  } else {
    s.mean = sum / static_cast<double>(s.finite);
  }
  return s;
}

std::string describe(const Tensor& t) {
  TensorSummary s = summarize(t);
  std::string r = cat(to_string(t.dtype()), shape_to_string(t.shape()));
  if (t.numel() == 0) return r + " (empty)";
  r += cat(" min ", format_double(s.min), " max ", format_double(s.max), " mean ",
           format_double(s.mean));
  if (s.nan) r += cat(" NaN x", s.nan);
  if (s.inf) r += cat(" Inf x", s.inf);
  r += " first [";
  for (size_t i = 0; i < s.first.size(); ++i) r += (i ? ", " : "") + s.first[i];
  return r + (static_cast<size_t>(t.numel()) > s.first.size() ? ", ...]" : "]");
}

std::string sanitize_file_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  // No hidden files, no "." or "..".
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

}  // namespace kiln::tools
