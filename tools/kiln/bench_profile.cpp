// The layer profile of `kiln bench`: a Profiler that sums each layer's reported times.
#include <string>

#include "bench_measure.hpp"
#include "kiln/profiler.hpp"

namespace kiln::tools {
namespace {

// Sums the times of the layers of each run by their position in it (every run of an engine runs
// the same layers in the same order).
class LayerTimeSums final : public Profiler {
 public:
  void report_layer_time(const LayerTiming& t) override {
    if (next_ == layers_.size()) {
      std::string name = t.name.empty() ? "#" + std::to_string(next_) : std::string(t.name);
      layers_.push_back({name, std::string(t.op), 0});
    }
    if (next_ < layers_.size()) layers_[next_].total_ms += t.milliseconds;
    ++next_;
  }
  void start_run() { next_ = 0; }
  void clear_times() {
    for (LayerTime& l : layers_) l.total_ms = 0;
  }
  std::vector<LayerTime> take() { return std::move(layers_); }

 private:
  std::vector<LayerTime> layers_;
  size_t next_ = 0;
};

// Installs a profiler for its lifetime, however the profiling loop ends.
class ProfilerScope {
 public:
  ProfilerScope(ExecutionContext& context, Profiler& profiler) : context_(context) {
    context_.set_profiler(&profiler);
  }
  ~ProfilerScope() { context_.set_profiler(nullptr); }
  ProfilerScope(const ProfilerScope&) = delete;
  ProfilerScope& operator=(const ProfilerScope&) = delete;

 private:
  ExecutionContext& context_;
};

}  // namespace

LayerProfile profile_layers(ExecutionContext& context, const StopRule& rule, bool warm_up,
                            const std::function<void()>& run, const std::string& method) {
  LayerTimeSums sums;
  LayerProfile p;
  p.method = method;
  {
    ProfilerScope scope(context, sums);
    if (warm_up) {
      run();  // untimed: learns the layers
      sums.clear_times();
    }
    p.iterations = repeat_for(rule, [&] {
      sums.start_run();
      run();
    });
  }
  p.layers = sums.take();
  return p;
}

}  // namespace kiln::tools
