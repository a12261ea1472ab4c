// Packs every constant a layer reads into one device allocation.
#include "backends/cuda/device_weights.hpp"

#include "backends/cuda/cuda_check.hpp"

namespace kiln::cuda {
namespace {

constexpr size_t kAlignment = 256;  // what cudaMalloc guarantees; enough for vector loads

size_t align_up(size_t n) {
  return (n + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace

DeviceWeights::DeviceWeights(const ir::Graph& graph) {
  size_t total = 0;
  std::vector<const ir::Value*> order;
  for (const auto& v : graph.values()) {
    if (!v->is_constant() || offsets_.count(v.get())) continue;
    offsets_[v.get()] = total;
    order.push_back(v.get());
    total += align_up(std::max<size_t>(v->constant->nbytes(), 1));
  }
  buffer_ = DeviceBuffer(total);
  for (const ir::Value* v : order) {
    const Tensor& t = *v->constant;
    if (t.nbytes() == 0) continue;
    KILN_CUDA_CHECK(cudaMemcpy(static_cast<char*>(buffer_.get()) + offsets_.at(v), t.raw(),
                               t.nbytes(), cudaMemcpyHostToDevice));
  }
}

void* DeviceWeights::find(const ir::Value* v) const {
  auto it = offsets_.find(v);
  return it == offsets_.end() ? nullptr : static_cast<char*>(buffer_.get()) + it->second;
}

std::shared_ptr<const DeviceWeights> device_weights_for(const Engine::Impl& engine) {
  std::lock_guard lock(engine.shared_state_mutex);
  if (!engine.shared_state) engine.shared_state = std::make_shared<DeviceWeights>(*engine.graph);
  return std::static_pointer_cast<const DeviceWeights>(engine.shared_state);
}

}  // namespace kiln::cuda
