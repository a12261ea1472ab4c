// The CUDA kernel interface. A kernel object is made per node per execution context. prepare()
// runs once when the context is created, with the static shapes (choose an algorithm, size the
// workspace, build library plans); enqueue() launches work on the context's stream and must not
// allocate, synchronise with the host, or copy between host and device, so that a whole engine
// can be captured in a CUDA graph.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "ir/graph.hpp"
#include "ir/op_family.hpp"

namespace kiln::cuda {

class TacticTuner;

// A view of a tensor in device memory.
struct DeviceTensor {
  DataType dtype = DataType::kFloat32;
  Shape shape;
  void* data = nullptr;  // nullptr for an omitted optional input

  int64_t numel() const { return shape_numel(shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(dtype); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

// Library handles and device facts shared by the kernels of one execution context.
struct CudaLibraries {
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  int device = 0;
  int sm_count = 0;
  int compute_capability = 0;  // 90 for Hopper
  // The tuner kernels ask to pick among their candidate tactics in prepare(). (Whether FP32
  // matrix work may run in TF32 is per layer: ir::allows_tf32(node).)
  TacticTuner* tuner = nullptr;
};

struct CudaKernelContext {
  const ir::Node& node;
  std::vector<DeviceTensor> inputs;
  std::vector<DeviceTensor> outputs;
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // at least what prepare() asked for
  size_t workspace_bytes = 0;
  CudaLibraries* libs = nullptr;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].data != nullptr; }
  // The host copy of a constant input (shape, axes, pads...): kernels read these at prepare time.
  const Tensor* constant_input(size_t i) const {
    const ir::Value* v = node.input(i);
    return v && v->constant ? &*v->constant : nullptr;
  }
  template <typename... Parts>
  [[noreturn]] void fail(ErrorCode code, const Parts&... parts) const {
    kiln::fail(code, node.describe(), ": ", parts...);
  }
};

class CudaKernel {
 public:
  virtual ~CudaKernel() = default;
  // Returns the workspace bytes enqueue() needs. Data pointers are not valid yet.
  virtual size_t prepare(const CudaKernelContext& ctx) { return 0; }
  virtual void enqueue(const CudaKernelContext& ctx) = 0;
  // A failure from work that ran after enqueue() returned (a host function in stream order),
  // taken once; empty when none. execute() checks it after its synchronisation, so a
  // synchronous run reports the failure instead of returning the outputs it left unwritten.
  virtual std::optional<Error> take_deferred_error() { return std::nullopt; }
};

using CudaKernelFactory = std::unique_ptr<CudaKernel> (*)(const ir::Node&);

class CudaKernelRegistry {
 public:
  static const CudaKernelRegistry& instance();
  void add(const std::string& op, CudaKernelFactory factory);
  bool has(const std::string& op) const;
  std::unique_ptr<CudaKernel> create(const ir::Node& node) const;
  // Every kernel's op with the family of the registration function that added it
  // (cuda_kernel.cpp's table), for the coverage test that holds each kernel to its op's family.
  std::vector<std::pair<std::string, ir::OpFamily>> families() const;

 private:
  struct Entry {
    std::string op;
    CudaKernelFactory factory = nullptr;
    ir::OpFamily family = ir::OpFamily::kElementwise;
  };
  std::vector<Entry> entries_;
  ir::OpFamily registering_ = ir::OpFamily::kElementwise;  // the family whose function is adding
};

}  // namespace kiln::cuda
