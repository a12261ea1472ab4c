// The CPU kernel interface. A kernel object is made per node per execution context, so it may
// keep state between runs (a packed weight, a oneDNN primitive); most kernels are plain functions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "ir/graph.hpp"
#include "ir/op_family.hpp"

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
  // Every kernel's op with the family of the registration function that added it (kernel.cpp's
  // table), for the coverage test that holds each kernel to its op's family.
  std::vector<std::pair<std::string, ir::OpFamily>> families() const;
  // Throws kUnsupported naming the node when there is no kernel for its op.
  std::unique_ptr<CpuKernel> create(const ir::Node& node) const;

 private:
  struct Entry {
    KernelFn fn = nullptr;
    KernelFactory factory = nullptr;
    ir::OpFamily family = ir::OpFamily::kElementwise;
  };
  std::vector<std::pair<std::string, Entry>> entries_;
  ir::OpFamily registering_ = ir::OpFamily::kElementwise;  // the family whose function is adding
};

}  // namespace kiln::cpu
