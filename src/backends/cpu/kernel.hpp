// The CPU kernel interface. A kernel object is made per node per execution context, so it may
// keep state between runs (a packed weight, a oneDNN primitive); most kernels are plain functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "ir/graph.hpp"

namespace kiln::cpu {

struct KernelContext {
  const ir::Node& node;
  std::vector<const Tensor*> inputs;  // nullptr where an optional input is omitted
  // Pre-allocated from inference where the output shape is known; a kernel whose output shape
  // depends on the data (NonZero, NonMaxSuppression) calls allocate_output instead.
  std::vector<Tensor> outputs;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(size_t i) const;
  Tensor& output(size_t i);
  bool has_output(size_t i) const { return i < node.outputs.size() && node.outputs[i] != nullptr; }
  Tensor& allocate_output(size_t i, DataType dtype, Shape shape);

  template <typename... Parts>
  [[noreturn]] void fail(ErrorCode code, const Parts&... parts) const {
    kiln::fail(code, node.describe(), ": ", parts...);
  }
};

class CpuKernel {
 public:
  virtual ~CpuKernel() = default;
  virtual void run(KernelContext& ctx) = 0;
};

using KernelFn = void (*)(KernelContext&);
using KernelFactory = std::unique_ptr<CpuKernel> (*)(const ir::Node&);

class CpuKernelRegistry {
 public:
  static const CpuKernelRegistry& instance();

  // A stateless kernel.
  void add(const std::string& op, KernelFn fn);
  // A kernel with per-context state.
  void add_factory(const std::string& op, KernelFactory factory);

  bool has(const std::string& op) const;
  // Throws kUnsupported naming the node when there is no kernel for its op.
  std::unique_ptr<CpuKernel> create(const ir::Node& node) const;

 private:
  struct Entry {
    KernelFn fn = nullptr;
    KernelFactory factory = nullptr;
  };
  std::vector<std::pair<std::string, Entry>> entries_;
};

// One registration function per kernel family; each lives in src/backends/cpu/<family>.cpp.
void register_elementwise_kernels(CpuKernelRegistry& r);
void register_nn_kernels(CpuKernelRegistry& r);
void register_reduction_kernels(CpuKernelRegistry& r);
void register_shape_kernels(CpuKernelRegistry& r);
void register_quantization_kernels(CpuKernelRegistry& r);
void register_extra_kernels(CpuKernelRegistry& r);
void register_control_flow_kernels(CpuKernelRegistry& r);  // If, Loop, Scan

}  // namespace kiln::cpu
