// Owning wrappers of the CUDA runtime, cuDNN and cuBLASLt handles that contexts and the tuner
// create: each is destroyed exactly once, also when the constructor of its owner throws after
// creating it (members already built are destroyed; a destructor body would not run).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <utility>

namespace kiln::cuda {

// A handle of pointer type T destroyed by `destroy`. The status `destroy` returns is ignored:
// a destructor can do nothing useful with it.
template <typename T, auto destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(T handle) : handle_(handle) {}
  UniqueHandle(UniqueHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.handle_, nullptr));
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  T get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  // Destroys the handle held (if any) and holds `handle` instead.
  void reset(T handle = nullptr) {
    if (handle_) destroy(handle_);
    handle_ = handle;
  }

 private:
  T handle_ = nullptr;
};

using CudaStream = UniqueHandle<cudaStream_t, cudaStreamDestroy>;
using CudaEvent = UniqueHandle<cudaEvent_t, cudaEventDestroy>;
using CudaGraphExec = UniqueHandle<cudaGraphExec_t, cudaGraphExecDestroy>;
using CudnnHandle = UniqueHandle<cudnnHandle_t, cudnnDestroy>;
using CublasLtHandle = UniqueHandle<cublasLtHandle_t, cublasLtDestroy>;

// Each creates one, or throws kiln::Error naming the failed call.
CudaStream make_nonblocking_stream();
CudaEvent make_event();
CudnnHandle make_cudnn_handle();
CublasLtHandle make_cublaslt_handle();

}  // namespace kiln::cuda
