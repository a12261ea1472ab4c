// CUDA kernel registry.
#include "backends/cuda/cuda_kernel.hpp"

#include <algorithm>

#include "backends/cuda/families.hpp"
#include "ir/family_registration.hpp"

namespace kiln::cuda {
namespace {

// Every registration function of families.hpp, with the family whose kernels it adds.
constexpr ir::FamilyRegistration<CudaKernelRegistry> kKernelFamilyRegistrations[] = {
    {ir::OpFamily::kElementwise, register_elementwise_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_binary_arith_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_binary_logic_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_binary_pow_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_variadic_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_cast_kernels},
    {ir::OpFamily::kElementwise, register_elementwise_pointwise_kernels},
    {ir::OpFamily::kConv, register_conv_kernels},
    {ir::OpFamily::kMatmul, register_matmul_kernels},
    {ir::OpFamily::kMatmul, register_matmul_fused_kernels},
    {ir::OpFamily::kPool, register_pool_kernels},
    {ir::OpFamily::kNormalization, register_normalization_kernels},
    {ir::OpFamily::kSoftmax, register_softmax_kernels},
    {ir::OpFamily::kSoftmax, register_softmax_hardmax_kernels},
    {ir::OpFamily::kReduction, register_reduction_kernels},
    {ir::OpFamily::kReduction, register_reduction_topk_kernels},
    {ir::OpFamily::kReduction, register_reduction_cumsum_kernels},
    {ir::OpFamily::kAttention, register_attention_kernels},
    {ir::OpFamily::kShape, register_shape_kernels},
    {ir::OpFamily::kShape, register_shape_copy_kernels},
    {ir::OpFamily::kShape, register_shape_pad_tile_kernels},
    {ir::OpFamily::kShape, register_shape_rearrange_kernels},
    {ir::OpFamily::kIndexing, register_indexing_kernels},
    {ir::OpFamily::kIndexing, register_indexing_scatter_kernels},
    {ir::OpFamily::kImage, register_image_kernels},
    {ir::OpFamily::kGenerators, register_generators_kernels},
};

}  // namespace

const CudaKernelRegistry& CudaKernelRegistry::instance() {
  static const CudaKernelRegistry registry = [] {
    CudaKernelRegistry r;
    for (const auto& family : kKernelFamilyRegistrations) {
      r.registering_ = family.family;
      family.add(r);
    }
    return r;
  }();
  return registry;
}

void CudaKernelRegistry::add(const std::string& op, CudaKernelFactory factory) {
  entries_.push_back({op, factory, registering_});
}

std::vector<std::pair<std::string, ir::OpFamily>> CudaKernelRegistry::families() const {
  std::vector<std::pair<std::string, ir::OpFamily>> out;
  for (const Entry& e : entries_) out.emplace_back(e.op, e.family);
  return out;
}

bool CudaKernelRegistry::has(const std::string& op) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.op == op; });
}

std::unique_ptr<CudaKernel> CudaKernelRegistry::create(const ir::Node& node) const {
  for (const Entry& e : entries_) {
    if (e.op == node.op) return e.factory(node);
  }
  fail(ErrorCode::kUnsupported, node.describe(), ": the CUDA backend has no kernel for op '",
       node.op, "'");
}

}  // namespace kiln::cuda
