// Tensor statistics in double precision, visiting each element once.
#include "tensor_summary.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "core/error.hpp"

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
  cpu::visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double v;
      if constexpr (std::is_integral_v<T>) {
        v = static_cast<double>(p[i]);
        if (static_cast<size_t>(i) < first_count) s.first.push_back(std::to_string(p[i]));
      } else {
        v = static_cast<double>(static_cast<float>(p[i]));
        if constexpr (std::is_same_v<T, double>) v = p[i];
        if (static_cast<size_t>(i) < first_count) s.first.push_back(format_double(v));
      }
      if (std::isnan(v)) {
        ++s.nan;
      } else if (std::isinf(v)) {
        ++s.inf;
      } else {
        ++s.finite;
        sum += v;
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
      }
    }
  });
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
