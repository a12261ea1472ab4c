// `kiln bench` on the CPU backend: end-to-end execute() latency per stream thread, and a layer
// profile from the executor's per-layer observer.
#include <omp.h>

#include <chrono>
#include <unordered_map>

#include "bench_measure.hpp"
#include "core/error.hpp"
#include "runtime/cpu_execution_context.hpp"

namespace kiln::tools {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Accumulates the time between consecutive layer observer calls: a layer's time is from the end
// of the previous layer (or the start of execute(), input binding included) to its own end.
struct LayerClock {
  Clock::time_point last;
  std::unordered_map<const ir::Node*, size_t> index;
  std::vector<LayerTime> layers;

  static void on_layer(const ir::Node& node, const std::vector<Tensor>&, void* user) {
    auto* self = static_cast<LayerClock*>(user);
    Clock::time_point now = Clock::now();
    auto [it, fresh] = self->index.emplace(&node, self->layers.size());
    if (fresh) {
      std::string name = node.name.empty() ? "#" + std::to_string(it->second) : node.name;
      self->layers.push_back({name, node.op, 0});
    }
    self->layers[it->second].total_ms += ms_between(self->last, now);
    self->last = now;
  }
};

LayerProfile profile_cpu(ExecutionContext& context, const std::map<std::string, Tensor>& inputs,
                         const StopRule& rule) {
  auto* cpu = dynamic_cast<CpuExecutionContext*>(&context);
  if (!cpu) fail(ErrorCode::kInternal, "a CPU engine made a context that is not a CPU context");
  LayerClock clock;
  cpu->set_layer_observer(&LayerClock::on_layer, &clock);
  LayerProfile p;
  p.method = "host clock between the CPU executor's layer callbacks";
  try {
    p.iterations = repeat_for(rule, [&] {
      clock.last = Clock::now();
      context.execute(inputs);
    });
  } catch (...) {
    cpu->set_layer_observer(nullptr, nullptr);
    throw;
  }
  cpu->set_layer_observer(nullptr, nullptr);
  p.layers = std::move(clock.layers);
  return p;
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
  if (plan.profile) report.profile = profile_cpu(*contexts[0], plan.inputs, plan.rule);
}

}  // namespace kiln::tools
