// The timing loop of `kiln bench`, independent of the backend: one iteration function per stream,
// each on its own thread, warmed up, then started together and run until an iteration count or a
// duration is reached.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace kiln::tools {

// When a measured phase stops. `iterations` > 0 counts timed iterations per stream; otherwise the
// phase runs for `duration_s` seconds (each stream finishes the iteration it is in).
struct StopRule {
  int64_t iterations = 0;
  double duration_s = 3.0;
  double warmup_ms = 200;  // untimed iterations first, at least one, for at least this long
};

// What one iteration measured. enqueue_ms < 0 when the iteration has no separate host enqueue
// time (CPU runs, execute()).
struct IterationTiming {
  double latency_ms = 0;
  double enqueue_ms = -1;
};
using Iteration = std::function<IterationTiming()>;

struct PhaseSamples {
  std::vector<double> latency_ms;  // every timed iteration of every stream
  std::vector<double> enqueue_ms;  // those that measured one
  int64_t iterations = 0;          // summed over streams
  double wall_s = 0;               // first stream's start to last stream's end
  int streams = 0;
};

// Runs iterations[i] on stream i's thread (the calling thread when there is one stream). An
// exception thrown by any iteration stops every stream and is rethrown here.
PhaseSamples run_phase(const std::vector<Iteration>& iterations, const StopRule& rule);

}  // namespace kiln::tools

namespace kiln::tools {

// Calls `body` on this thread until `rule` is met (its iterations, else its duration), without
// warm-up or timing of its own; returns how many times it ran. For loops that measure themselves,
// like the layer profile.
int64_t repeat_for(const StopRule& rule, const std::function<void()>& body);

}  // namespace kiln::tools
