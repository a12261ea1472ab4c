// The host fallback kernel (see host_fallback.hpp).
#include "backends/cuda/host_fallback.hpp"

#include <cuda_runtime.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

// Page-locked host memory, so the copies are asynchronous and capturable.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes) KILN_CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
  }
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class HostFallbackKernel final : public CudaKernel {
 public:
  explicit HostFallbackKernel(const ir::Node& node)
      : node_(node), cpu_(cpu::CpuKernelRegistry::instance().create(node)) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    inputs_.assign(ctx.inputs.size(), nullptr);
    host_inputs_.clear();
    staged_.clear();
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      const ir::Value* v = node_.input(i);
      if (!v) continue;
      if (v->is_constant()) {
        inputs_[i] = &*v->constant;  // already on the host
        continue;
      }
      const DeviceTensor& t = ctx.inputs[i];
      auto buffer = std::make_shared<PinnedBuffer>(std::max<size_t>(t.nbytes(), 1));
      host_inputs_.push_back(
          std::make_unique<Tensor>(Tensor::borrow(t.dtype, t.shape, buffer->get(), buffer)));
      inputs_[i] = host_inputs_.back().get();
      staged_.push_back({i, buffer});
    }
    outputs_.clear();
    memory_.clear();
    for (size_t o = 0; o < ctx.outputs.size(); ++o) {
      const DeviceTensor& t = ctx.outputs[o];
      auto buffer = node_.output(o)
                        ? std::make_shared<PinnedBuffer>(std::max<size_t>(t.nbytes(), 1))
                        : nullptr;
      outputs_.push_back(buffer);
      memory_.push_back(buffer ? cpu::OutputMemory{buffer->get(), t.nbytes(), true}
                               : cpu::OutputMemory{});
    }
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (std::optional<Error> e = take_deferred_error()) {
      ctx.fail(e->code(), "its CPU kernel (run on the host: the CUDA backend has no kernel for ",
               "this op) failed in an earlier run: ", e->what());
    }
    for (const auto& [i, buffer] : staged_) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(buffer->get(), ctx.inputs[i].data, ctx.inputs[i].nbytes(),
                                      cudaMemcpyDeviceToHost, ctx.stream));
    }
    KILN_CUDA_CHECK(cudaLaunchHostFunc(ctx.stream, &HostFallbackKernel::run_on_host, this));
    for (size_t o = 0; o < outputs_.size(); ++o) {
      if (!outputs_[o] || !ctx.outputs[o].data) continue;
      KILN_CUDA_CHECK(cudaMemcpyAsync(ctx.outputs[o].data, outputs_[o]->get(),
                                      ctx.outputs[o].nbytes(), cudaMemcpyHostToDevice, ctx.stream));
    }
  }

 private:
  // Runs in stream order on a CUDA driver thread: no CUDA calls here, and nothing may escape.
  static void CUDART_CB run_on_host(void* user) {
    auto* self = static_cast<HostFallbackKernel*>(user);
    try {
      std::vector<Tensor> out =
          cpu::run_node(*self->cpu_, self->node_, self->inputs_, self->memory_);
      for (size_t o = 0; o < out.size() && o < self->outputs_.size(); ++o) {
        const auto& buffer = self->outputs_[o];
        if (!buffer || !out[o].defined() || out[o].raw() == buffer->get()) continue;
        // The kernel allocated its own output (a shape other than the static one): a mismatch
        // with the engine's plan, reported rather than copied past the buffer's end.
        if (out[o].nbytes() != buffer->size()) {
          throw Error(ErrorCode::kInvalidArgument,
                      cat("output ", o, " came out as ", shape_to_string(out[o].shape()),
                          ", not the static shape the engine was built for"));
        }
        std::memcpy(buffer->get(), out[o].raw(), buffer->size());
      }
    } catch (const Error& e) {
      self->report(e);
    } catch (const std::exception& e) {
      self->report(Error(ErrorCode::kInternal, e.what()));
    } catch (...) {
      self->report(Error(ErrorCode::kInternal, "an unknown error"));
    }
  }

  std::optional<Error> take_deferred_error() override {
    if (!failed_.load(std::memory_order_acquire)) return std::nullopt;  // the steady state: no lock
    std::lock_guard lock(error_mutex_);
    std::optional<Error> e = std::move(error_);
    error_.reset();
    failed_.store(false, std::memory_order_release);
    return e;
  }

  void report(const Error& error) {
    std::lock_guard lock(error_mutex_);
    error_ = error;
    failed_.store(true, std::memory_order_release);
  }

  const ir::Node& node_;
  std::unique_ptr<cpu::CpuKernel> cpu_;
  std::vector<const Tensor*> inputs_;                 // per node input; constants point at theirs
  std::vector<std::unique_ptr<Tensor>> host_inputs_;  // views of the pinned input buffers
  std::vector<std::pair<size_t, std::shared_ptr<PinnedBuffer>>> staged_;  // inputs to copy
  std::vector<std::shared_ptr<PinnedBuffer>> outputs_;  // per node output (null if omitted)
  std::vector<cpu::OutputMemory> memory_;
  std::mutex error_mutex_;
  std::optional<Error> error_;  // from the last host run, reported by the next enqueue()
  std::atomic<bool> failed_{false};
};

}  // namespace

bool runs_on_host(const std::string& op) {
  return !CudaKernelRegistry::instance().has(op) && cpu::CpuKernelRegistry::instance().has(op);
}

std::unique_ptr<CudaKernel> make_host_fallback_kernel(const ir::Node& node) {
  return std::make_unique<HostFallbackKernel>(node);
}

}  // namespace kiln::cuda
