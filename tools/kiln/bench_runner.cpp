// The backend-independent timing loop of `kiln bench`.
#include "bench_runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <latch>
#include <mutex>
#include <thread>

#include "kiln/error.hpp"

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;

struct StreamResult {
  std::vector<double> latency_ms;
  std::vector<double> enqueue_ms;
  Clock::time_point start;
  Clock::time_point end;
};

// One stream: warm up, wait for the others, then run the timed iterations. `stop` ends the loop
// early when another stream failed.
void run_stream(const Iteration& iteration, const StopRule& rule, std::latch& ready,
                const std::atomic<bool>& stop, StreamResult& result) {
  auto warm_until = Clock::now() + std::chrono::duration<double, std::milli>(rule.warmup_ms);
  do {
    iteration();
  } while (Clock::now() < warm_until && !stop);
  ready.arrive_and_wait();
  result.start = Clock::now();
  auto deadline = result.start + std::chrono::duration<double>(rule.duration_s);
  if (rule.iterations > 0) result.latency_ms.reserve(static_cast<size_t>(rule.iterations));
  for (int64_t i = 0; !stop; ++i) {
    if (rule.iterations > 0 ? i >= rule.iterations : Clock::now() >= deadline) break;
    IterationTiming t = iteration();
    result.latency_ms.push_back(t.latency_ms);
    if (t.enqueue_ms >= 0) result.enqueue_ms.push_back(t.enqueue_ms);
  }
  result.end = Clock::now();
}

}  // namespace

PhaseSamples run_phase(const std::vector<Iteration>& iterations, const StopRule& rule) {
  if (iterations.empty()) fail(ErrorCode::kInvalidArgument, "a benchmark phase needs a stream");
  const size_t n = iterations.size();
  std::vector<StreamResult> results(n);
  std::latch ready(static_cast<std::ptrdiff_t>(n));
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto guarded = [&](size_t i) {
    try {
      run_stream(iterations[i], rule, ready, stop, results[i]);
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
      // A stream that failed before the start line must still release the others.
      if (results[i].start == Clock::time_point{}) ready.count_down();
    }
  };
  if (n == 1) {
    guarded(0);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (size_t i = 0; i < n; ++i) threads.emplace_back(guarded, i);
    for (std::thread& t : threads) t.join();
  }
  if (failure) std::rethrow_exception(failure);

  PhaseSamples s;
  s.streams = static_cast<int>(n);
  Clock::time_point first = results[0].start, last = results[0].end;
  for (StreamResult& r : results) {
    s.latency_ms.insert(s.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    s.enqueue_ms.insert(s.enqueue_ms.end(), r.enqueue_ms.begin(), r.enqueue_ms.end());
    first = std::min(first, r.start);
    last = std::max(last, r.end);
  }
  s.iterations = static_cast<int64_t>(s.latency_ms.size());
  s.wall_s = std::chrono::duration<double>(last - first).count();
  return s;
}

}  // namespace kiln::tools

namespace kiln::tools {

int64_t repeat_for(const StopRule& rule, const std::function<void()>& body) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(rule.duration_s);
  int64_t n = 0;
  while (rule.iterations > 0 ? n < rule.iterations : std::chrono::steady_clock::now() < deadline) {
    body();
    ++n;
  }
  return n;
}

}  // namespace kiln::tools
