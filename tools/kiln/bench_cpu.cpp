// `kiln bench` on the CPU backend: end-to-end execute() latency per stream thread, and a layer
// profile from the host clock readings the CPU context reports to a Profiler.
#include <omp.h>

#include <chrono>

#include "bench_measure.hpp"

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

void measure_cpu(const BenchPlan& plan, BenchReport& report) {
  report.device = "CPU, " + std::to_string(omp_get_max_threads()) + " OpenMP threads";
  std::vector<std::unique_ptr<ExecutionContext>> contexts;
  std::vector<Iteration> iterations;
  for (int s = 0; s < plan.streams; ++s) {
    contexts.push_back(plan.engine.create_execution_context());
    iterations.push_back([context = contexts.back().get(), &inputs = plan.inputs] {
      Clock::time_point start = Clock::now();
      context->execute(inputs);
      return IterationTiming{ms_between(start, Clock::now())};
    });
  }
  report.end_to_end = make_phase("end-to-end latency (host clock around execute())",
                                 run_phase(iterations, plan.rule), plan.batch);
  if (plan.profile) {
    report.profile = profile_layers(
        *contexts[0], plan.rule, /*warm_up=*/false, [&] { contexts[0]->execute(plan.inputs); },
        "host clock between the CPU executor's layer callbacks");
  }
}

}  // namespace kiln::tools
