// `kiln bench` on the CUDA backend: GPU compute time from CUDA events around enqueue() on
// device-resident buffers (with the host time of the enqueue call), end-to-end execute() with its
// host-device copies, and a layer profile from events recorded between layers.
#include <chrono>

#include "bench_measure.hpp"
#include "core/error.hpp"

#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cuda_execution_context.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "runtime/engine_impl.hpp"
#include "runtime/split_execution_context.hpp"
#endif

namespace kiln::tools {

#ifndef KILN_WITH_CUDA

void measure_cuda(const BenchPlan&, BenchReport&) {
  fail(ErrorCode::kUnsupported,
       "this kiln build has no CUDA backend (it was built without the CUDA toolkit)");
}

#else

namespace {

using Clock = std::chrono::steady_clock;

class Stream {
 public:
  Stream() { KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() { KILN_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

using EventPtr = std::unique_ptr<Event>;

double elapsed_ms(const Event& from, const Event& to) {
  float ms = 0;
  KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, from.get(), to.get()));
  return ms;
}

std::string device_description() {
  int device = 0, driver = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  KILN_CUDA_CHECK(cudaDriverGetVersion(&driver));
  return cat(prop.name, " (GPU ", device, ", CUDA driver ", driver / 1000, ".", driver % 1000 / 10,
             ")");
}

// One stream of the benchmark: its own context, CUDA stream, events and device buffers holding
// the inputs (copied once) and the outputs.
struct StreamState {
  std::unique_ptr<ExecutionContext> context;
  // What enqueue() runs: `context` itself, or a split engine's GPU part (its host part has no
  // device buffers to enqueue on, so end-to-end execute() alone times the whole engine).
  ExecutionContext* device = nullptr;
  Stream stream;
  Event start;
  Event end;
  std::vector<cuda::DeviceBuffer> buffers;
  std::map<std::string, void*> bindings;
};

using StreamPtr = std::unique_ptr<StreamState>;

size_t static_bytes(const ir::Value& v) {
  std::optional<Shape> s = v.shape ? ir::to_concrete(*v.shape) : std::nullopt;
  if (!s) fail(ErrorCode::kInvalidArgument, "tensor '", v.name, "' has no static shape");
  return static_cast<size_t>(shape_numel(*s)) * element_size(v.dtype);
}

StreamPtr make_stream(const BenchPlan& plan) {
  auto st = std::make_unique<StreamState>();
  st->context = plan.engine.create_execution_context();
  st->context->set_cuda_graph(plan.cuda_graph);
  auto* split = dynamic_cast<SplitExecutionContext*>(st->context.get());
  st->device = split ? split->device_part() : st->context.get();  // null: no GPU layers
  const ir::Graph& g = *plan.engine.impl().graph;
  for (const ir::Value* v : g.inputs()) {
    size_t bytes = static_bytes(*v);
    const Tensor& t = plan.inputs.at(v->name);
    if (t.nbytes() != bytes) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' has shape ",
           shape_to_string(t.shape()), ", not the shape ", ir::sym_shape_to_string(v->shape),
           " the CUDA engine was built for");
    }
    st->buffers.emplace_back(std::max<size_t>(bytes, 1));
    KILN_CUDA_CHECK(cudaMemcpy(st->buffers.back().get(), t.raw(), bytes, cudaMemcpyHostToDevice));
    st->bindings[v->name] = st->buffers.back().get();
  }
  for (const ir::Value* v : g.outputs()) {
    if (st->bindings.count(v->name)) continue;  // an input passed through as an output
    st->buffers.emplace_back(std::max<size_t>(static_bytes(*v), 1));
    st->bindings[v->name] = st->buffers.back().get();
  }
  return st;
}

// Records an event before every layer and one after the last; the time between consecutive
// events is the layer's GPU time.
struct LayerEvents {
  std::vector<EventPtr> events;
  std::vector<const ir::Node*> nodes;  // nodes[i] starts at events[i]
  size_t next = 0;

  static void on_layer(const ir::Node* node, cudaStream_t stream, void* user) {
    auto* self = static_cast<LayerEvents*>(user);
    if (self->next == self->events.size()) {  // first profiled run only
      self->events.push_back(std::make_unique<Event>());
      self->nodes.push_back(node);
    }
    KILN_CUDA_CHECK(cudaEventRecord(self->events[self->next]->get(), stream));
    ++self->next;
  }
};

LayerProfile profile_cuda(StreamState& st, const StopRule& rule) {
  auto* cuda_context = dynamic_cast<cuda::CudaExecutionContext*>(st.device);
  if (!cuda_context) fail(ErrorCode::kInternal, "a CUDA engine made a context of another backend");
  LayerEvents clock;
  auto launch = [&] {
    clock.next = 0;
    st.device->enqueue(st.bindings, st.stream.get());
    KILN_CUDA_CHECK(cudaStreamSynchronize(st.stream.get()));
  };
  LayerProfile p;
  p.method = "CUDA events between layers, launched without a CUDA graph";
  st.device->set_cuda_graph(false);
  cuda_context->set_layer_hook(&LayerEvents::on_layer, &clock);
  try {
    launch();  // untimed: creates the events and learns the layers
    for (size_t i = 0; i + 1 < clock.nodes.size(); ++i) {
      const ir::Node& n = *clock.nodes[i];
      p.layers.push_back({n.name.empty() ? "#" + std::to_string(i) : n.name, n.op, 0});
    }
    p.iterations = repeat_for(rule, [&] {
      launch();
      for (size_t i = 0; i < p.layers.size(); ++i) {
        p.layers[i].total_ms += elapsed_ms(*clock.events[i], *clock.events[i + 1]);
      }
    });
  } catch (...) {
    cuda_context->set_layer_hook(nullptr, nullptr);
    throw;
  }
  cuda_context->set_layer_hook(nullptr, nullptr);
  return p;
}

}  // namespace

void measure_cuda(const BenchPlan& plan, BenchReport& report) {
  // Before any stream or event exists, so a machine without a GPU gets the context's message.
  if (!cuda::device_available()) {
    fail(ErrorCode::kUnsupported, "no CUDA device is available to run this engine");
  }
  std::vector<StreamPtr> streams;
  for (int s = 0; s < plan.streams; ++s) streams.push_back(make_stream(plan));
  report.device = device_description();

  // A split engine whose layers all run on the host has nothing to time on the GPU.
  const bool on_device = streams[0]->device != nullptr;
  std::vector<Iteration> compute;
  for (auto& st : streams) {
    if (!on_device) break;
    compute.push_back([st = st.get()] {
      cudaStream_t s = st->stream.get();
      KILN_CUDA_CHECK(cudaEventRecord(st->start.get(), s));
      Clock::time_point t0 = Clock::now();
      st->device->enqueue(st->bindings, s);
      Clock::time_point t1 = Clock::now();
      KILN_CUDA_CHECK(cudaEventRecord(st->end.get(), s));
      KILN_CUDA_CHECK(cudaEventSynchronize(st->end.get()));
      return IterationTiming{elapsed_ms(st->start, st->end),
                             std::chrono::duration<double, std::milli>(t1 - t0).count()};
    });
  }
  if (on_device) {
    PhaseSamples samples = run_phase(compute, plan.rule);
    report.gpu_compute = make_phase(
        plan.engine.impl().host_tail
            ? cat("GPU compute time of the GPU part (CUDA events around its enqueue(); the ",
                  plan.engine.impl().host_tail->graph->nodes().size(),
                  " host layers count in end-to-end latency only)")
            : std::string("GPU compute time (CUDA events around enqueue())"),
        samples, plan.batch);
    report.host_enqueue_ms = summarize(samples.enqueue_ms);
  }

  std::vector<Iteration> end_to_end;
  for (auto& st : streams) {
    end_to_end.push_back([context = st->context.get(), &inputs = plan.inputs] {
      Clock::time_point start = Clock::now();
      context->execute(inputs);
      return IterationTiming{
          std::chrono::duration<double, std::milli>(Clock::now() - start).count()};
    });
  }
  report.end_to_end =
      make_phase("end-to-end latency (host clock around execute(), host-device copies included)",
                 run_phase(end_to_end, plan.rule), plan.batch);

  if (plan.profile && on_device) {
    report.profile = profile_cuda(*streams[0], plan.rule);
    streams[0]->context->set_cuda_graph(plan.cuda_graph);
  }
}

#endif

}  // namespace kiln::tools
