// One-line description of a tensor's contents for `kiln run`: dtype, shape, min/max/mean over the
// finite values, NaN/Inf counts, and the first few values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::tools {

struct TensorSummary {
  double min = 0, max = 0, mean = 0;  // over finite values; 0 if there are none
  int64_t finite = 0, nan = 0, inf = 0;
  std::vector<std::string> first;  // up to `first_count` values, formatted exactly for ints
};

TensorSummary summarize(const Tensor& t, size_t first_count = 6);
// "float32[1,1000] min -3.2 max 4.1 mean 0.0123 first [0.1, 0.2, ...]"
std::string describe(const Tensor& t);

// A file name for a tensor name: characters other than letters, digits, '.', '-', '_' become '_'.
std::string sanitize_file_name(const std::string& name);

}  // namespace kiln::tools
