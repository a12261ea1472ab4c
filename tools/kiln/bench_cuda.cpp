// `kiln bench` on the CUDA backend: GPU compute time from CUDA events around enqueue() on
// device-resident buffers (with the host time of the enqueue call), end-to-end execute() with its
// host-device copies, and a layer profile from events recorded between layers.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "bench_measure.hpp"
#include "kiln/error.hpp"
#include "kiln/inspector.hpp"

#ifdef KILN_WITH_CUDA
#include <cuda_runtime.h>
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

// The tool talks to the CUDA runtime directly for its own streams, events and buffers (as an
// application does); kiln's API only takes the stream and the device pointers.
void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) {
    fail(ErrorCode::kInternal, "CUDA call ", call, " failed: ", cudaGetErrorName(status), " (",
         cudaGetErrorString(status), ")");
  }
}

class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  Event() { check(cudaEventCreate(&e_), "cudaEventCreate"); }
  ~Event() { cudaEventDestroy(e_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

class DeviceMemory {
 public:
  explicit DeviceMemory(size_t bytes) { check(cudaMalloc(&p_, bytes), "cudaMalloc"); }
  ~DeviceMemory() { cudaFree(p_); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

double elapsed_ms(const Event& from, const Event& to) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, from.get(), to.get()), "cudaEventElapsedTime");
  return ms;
}

std::string device_description() {
  int device = 0, driver = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
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
  std::vector<std::unique_ptr<DeviceMemory> > buffers;
  std::map<std::string, void*> bindings;
};

using StreamPtr = std::unique_ptr<StreamState>;

size_t static_bytes(const TensorDesc& v) {
  bool is_static = v.rank_known;
  for (int64_t d : v.dims) is_static = is_static && d >= 0;
  if (!is_static) fail(ErrorCode::kInvalidArgument, "tensor '", v.name, "' has no static shape");
  return static_cast<size_t>(shape_numel(v.dims)) * element_size(v.dtype);
}

StreamPtr make_stream(const BenchPlan& plan, const EngineInformation& info) {
  auto st = std::make_unique<StreamState>();
  st->context = plan.engine.create_execution_context();
  st->context->set_cuda_graph(plan.cuda_graph);
  st->device = st->context->device_part();  // null: no GPU layers
  auto allocate = [&](const TensorDesc& v) {
    st->buffers.push_back(std::make_unique<DeviceMemory>(std::max<size_t>(static_bytes(v), 1)));
    st->bindings[v.name] = st->buffers.back()->get();
    return st->buffers.back()->get();
  };
  for (const TensorDesc& v : info.device_part_inputs) {
    size_t bytes = static_bytes(v);
    const Tensor& t = plan.inputs.at(v.name);
    if (t.nbytes() != bytes) {
      fail(ErrorCode::kInvalidArgument, "input '", v.name, "' has shape ",
           shape_to_string(t.shape()), ", not the shape ", shape_to_string(v),
           " the CUDA engine was built for");
    }
    check(cudaMemcpy(allocate(v), t.raw(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  for (const TensorDesc& v : info.device_part_outputs) {
    if (!st->bindings.count(v.name)) allocate(v);  // else an input passed through as an output
  }
  return st;
}

}  // namespace

void measure_cuda(const BenchPlan& plan, BenchReport& report) {
  // Before any stream or event exists, so a machine without a GPU gets the context's message.
  if (!backend_available(Backend::kCuda)) {
    fail(ErrorCode::kUnsupported, "no CUDA device is available to run this engine");
  }
  EngineInformation info = inspect_engine(plan.engine);
  std::vector<StreamPtr> streams;
  for (int s = 0; s < plan.streams; ++s) streams.push_back(make_stream(plan, info));
  report.device = device_description();

  // A split engine whose layers all run on the host has nothing to time on the GPU.
  const bool on_device = streams[0]->device != nullptr;
  std::vector<Iteration> compute;
  for (auto& st : streams) {
    if (!on_device) break;
    compute.push_back([st = st.get()] {
      cudaStream_t s = st->stream.get();
      check(cudaEventRecord(st->start.get(), s), "cudaEventRecord");
      Clock::time_point t0 = Clock::now();
      st->device->enqueue(st->bindings, s);
      Clock::time_point t1 = Clock::now();
      check(cudaEventRecord(st->end.get(), s), "cudaEventRecord");
      check(cudaEventSynchronize(st->end.get()), "cudaEventSynchronize");
      return IterationTiming{elapsed_ms(st->start, st->end),
                             std::chrono::duration<double, std::milli>(t1 - t0).count()};
    });
  }
  if (on_device) {
    size_t host_layers = 0;
    for (const LayerInformation& l : info.layers) host_layers += l.on_host ? 1 : 0;
    PhaseSamples samples = run_phase(compute, plan.rule);
    report.gpu_compute = make_phase(
        host_layers || !info.host_part_reason.empty()
            ? cat("GPU compute time of the GPU part (CUDA events around its enqueue(); the ",
                  host_layers, " host layers count in end-to-end latency only)")
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
    StreamState& st = *streams[0];
    report.profile = profile_layers(
        *st.device, plan.rule, /*warm_up=*/true,
        [&] {
          st.device->enqueue(st.bindings, st.stream.get());
          check(cudaStreamSynchronize(st.stream.get()), "cudaStreamSynchronize");
        },
        "CUDA events between layers, launched without a CUDA graph");
  }
}

#endif

}  // namespace kiln::tools
