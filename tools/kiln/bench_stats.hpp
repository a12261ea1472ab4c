// Summary statistics of `kiln bench` latency samples. Percentiles use linear interpolation between
// the closest ranks (NumPy's default, Hyndman & Fan type 7), so the median is the usual median.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::tools {

struct LatencyStats {
  int64_t count = 0;
  double min = 0;
  double max = 0;
  double mean = 0;
  double median = 0;
  double p90 = 0;
  double p95 = 0;
  double p99 = 0;
  double stddev = 0;  // population standard deviation
};

// The p-th percentile (0 <= p <= 100) of ascending `sorted`: with rank r = p/100 * (n-1), the
// value at floor(r) plus the fraction of r times the step to the next value. Throws
// Error(kInvalidArgument) when `sorted` is empty or p is outside [0, 100].
double percentile(const std::vector<double>& sorted, double p);

// All statistics of `samples` (any order). Empty samples give count 0 and zeros.
LatencyStats summarize(std::vector<double> samples);

}  // namespace kiln::tools
