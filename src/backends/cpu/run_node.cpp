// Concrete inference, allocation and kernel call for one node.
#include "backends/cpu/run_node.hpp"

#include <cstring>

#include "core/checked_size.hpp"
#include "ir/op_registry.hpp"

namespace kiln::cpu {
namespace {

std::string output_label(const ir::Node& node, size_t o) {
  const ir::Value* v = o < node.outputs.size() ? node.outputs[o] : nullptr;
  return v ? cat(" ('", v->name, "')") : std::string();
}

}  // namespace

std::vector<Tensor> run_node(CpuKernel& kernel, const ir::Node& node,
                             const std::vector<const Tensor*>& inputs,
                             std::span<const OutputMemory> memory,
                             const std::shared_ptr<void>& owner) {
  std::vector<std::optional<ir::TensorType>> types;
  types.reserve(inputs.size());
  for (const Tensor* t : inputs) {
    if (!t) {
      types.emplace_back();
      continue;
    }
    types.push_back(ir::TensorType{t->dtype(), ir::to_sym_shape(t->shape()), t});
  }
  auto out_types = ir::infer_node(node, std::move(types), ErrorCode::kInvalidArgument);
  KernelContext ctx{node, inputs, std::vector<Tensor>(node.outputs.size())};
  for (size_t o = 0; o < out_types.size(); ++o) {
    if (!out_types[o] || !out_types[o]->shape) continue;
    auto shape = ir::to_concrete(*out_types[o]->shape);
    if (!shape) continue;  // data-dependent: the kernel allocates it
    // The shape comes from the inputs' values (Expand's target, Pad's pads, ...), so its size is
    // checked before anything is allocated: an overflowing or huge shape fails naming the node.
    size_t esize = element_size(out_types[o]->dtype);
    const std::string what = cat(node.describe(), ": output ", o, output_label(node, o));
    size_t bytes = checked_nbytes(checked_numel(*shape, esize, ErrorCode::kInvalidArgument, what),
                                  esize, ErrorCode::kInvalidArgument, what);
    if (o < memory.size() && memory[o].data && memory[o].bytes == bytes) {
      if (memory[o].zero) std::memset(memory[o].data, 0, bytes);
      ctx.outputs[o] = Tensor::borrow(out_types[o]->dtype, *shape, memory[o].data, owner);
      continue;
    }
    ctx.outputs[o] = Tensor(out_types[o]->dtype, *shape);
  }
  kernel.run(ctx);
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    if (!node.outputs[o]) continue;
    if (o >= ctx.outputs.size() || !ctx.outputs[o].defined()) {
      fail(ErrorCode::kInternal, node.describe(), ": kernel did not produce output ", o);
    }
  }
  ctx.outputs.resize(node.outputs.size());
  return std::move(ctx.outputs);
}

}  // namespace kiln::cpu
