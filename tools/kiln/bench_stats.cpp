// Latency statistics for `kiln bench`.
#include "bench_stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kiln/error.hpp"

namespace kiln::tools {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) fail(ErrorCode::kInvalidArgument, "percentile of no samples");
  if (!(p >= 0 && p <= 100))
    fail(ErrorCode::kInvalidArgument, "percentile ", p, " is not in [0, 100]");
  double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (rank - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

LatencyStats summarize(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = static_cast<int64_t>(samples.size());
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  double squares = 0;
  for (double v : samples) squares += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(squares / static_cast<double>(s.count));
  s.median = percentile(samples, 50);
  s.p90 = percentile(samples, 90);
  s.p95 = percentile(samples, 95);
  s.p99 = percentile(samples, 99);
  return s;
}

}  // namespace kiln::tools
