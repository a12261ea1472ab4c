// Kernel registry and context accessors.
#include "backends/cpu/kernel.hpp"

#include <algorithm>

namespace kiln::cpu {
namespace {

class FunctionKernel final : public CpuKernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  void run(KernelContext& ctx) override { fn_(ctx); }

 private:
  KernelFn fn_;
};

}  // namespace

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i)) fail(ErrorCode::kInvalidArgument, "input ", i, " is required but missing");
  return *inputs[i];
}

Tensor& KernelContext::output(size_t i) {
  if (i >= outputs.size() || !outputs[i].defined()) {
    fail(ErrorCode::kInternal, "output ", i, " was not allocated before the kernel ran");
  }
  return outputs[i];
}

Tensor& KernelContext::allocate_output(size_t i, DataType dtype, Shape shape) {
  if (i >= outputs.size()) outputs.resize(i + 1);
  outputs[i] = Tensor(dtype, std::move(shape));
  return outputs[i];
}

const CpuKernelRegistry& CpuKernelRegistry::instance() {
  static const CpuKernelRegistry registry = [] {
    CpuKernelRegistry r;
    register_elementwise_kernels(r);
    register_nn_kernels(r);
    register_reduction_kernels(r);
    register_shape_kernels(r);
    register_quantization_kernels(r);
    register_extra_kernels(r);
    register_control_flow_kernels(r);
    std::sort(r.entries_.begin(), r.entries_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return r;
  }();
  return registry;
}

void CpuKernelRegistry::add(const std::string& op, KernelFn fn) {
  entries_.push_back({op, Entry{fn, nullptr}});
}

void CpuKernelRegistry::add_factory(const std::string& op, KernelFactory factory) {
  entries_.push_back({op, Entry{nullptr, factory}});
}

bool CpuKernelRegistry::has(const std::string& op) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return e.first == op; });
}

std::unique_ptr<CpuKernel> CpuKernelRegistry::create(const ir::Node& node) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), node.op,
                             [](const auto& e, const std::string& op) { return e.first < op; });
  if (it == entries_.end() || it->first != node.op) {
    fail(ErrorCode::kUnsupported, node.describe(), ": the CPU backend has no kernel for op '",
         node.op, "'");
  }
  if (it->second.factory) return it->second.factory(node);
  return std::make_unique<FunctionKernel>(it->second.fn);
}

}  // namespace kiln::cpu
