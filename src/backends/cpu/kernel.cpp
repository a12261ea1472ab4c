// Kernel registry and context accessors.
#include "backends/cpu/kernel.hpp"

#include <algorithm>

#include "backends/cpu/families.hpp"
#include "ir/family_registration.hpp"

namespace kiln::cpu {
namespace {

class FunctionKernel final : public CpuKernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  void run(KernelContext& ctx) override { fn_(ctx); }

 private:
  KernelFn fn_;
};

// Every registration function of families.hpp, with the family whose kernels it adds.
constexpr ir::FamilyRegistration<CpuKernelRegistry> kKernelFamilyRegistrations[] = {
    {ir::OpFamily::kElementwise, register_elementwise_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_activation_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_binary_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_variadic_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_cast_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_pointwise_kernels},
    {ir::OpFamily::kConv, register_conv_kernels},
    {ir::OpFamily::kMatmul, register_matmul_kernels},
    {ir::OpFamily::kMatmul, register_matmul_fused_kernels},
    {ir::OpFamily::kMatmul, register_matmul_einsum_kernels},
    {ir::OpFamily::kPool, register_pool_kernels},
    {ir::OpFamily::kNormalization, register_normalization_kernels},
    {ir::OpFamily::kSoftmax, register_softmax_kernels},
    {ir::OpFamily::kReduction, register_reduction_kernels},
    {ir::OpFamily::kReduction, register_reduction_index_kernels},
    {ir::OpFamily::kAttention, register_attention_kernels},
    {ir::OpFamily::kAttention, register_attention_scaled_dot_product_kernels},
    {ir::OpFamily::kShape, register_shape_kernels},
    {ir::OpFamily::kShape, register_shape_slice_pad_kernels},
    {ir::OpFamily::kShape, register_shape_rearrange_kernels},
    {ir::OpFamily::kIndexing, register_indexing_kernels},
    {ir::OpFamily::kIndexing, register_indexing_selection_kernels},
    {ir::OpFamily::kImage, register_image_kernels},
    {ir::OpFamily::kImage, register_image_resize_kernels},
    {ir::OpFamily::kImage, register_image_nms_kernels},
    {ir::OpFamily::kGenerators, register_generators_kernels},
    {ir::OpFamily::kQuantization, register_quantization_kernels},
    {ir::OpFamily::kControlFlow, register_control_flow_kernels},
    {ir::OpFamily::kControlFlow, register_control_flow_scan_kernels},
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
    for (const auto& family : kKernelFamilyRegistrations) {
      r.registering_ = family.family;
      family.add(r);
    }
    std::sort(r.entries_.begin(), r.entries_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return r;
  }();
  return registry;
}

void CpuKernelRegistry::add(const std::string& op, KernelFn fn) {
  entries_.push_back({op, Entry{fn, nullptr, registering_}});
}

void CpuKernelRegistry::add_factory(const std::string& op, KernelFactory factory) {
  entries_.push_back({op, Entry{nullptr, factory, registering_}});
}

std::vector<std::pair<std::string, ir::OpFamily>> CpuKernelRegistry::families() const {
  std::vector<std::pair<std::string, ir::OpFamily>> out;
  for (const auto& [op, entry] : entries_) out.emplace_back(op, entry.family);
  return out;
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
