// An engine's constants in device memory: uploaded once, in one allocation, and shared by every
// execution context of the engine.
#pragma once

#include <memory>
#include <unordered_map>

#include "backends/cuda/device_buffer.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::cuda {

class DeviceWeights {
 public:
  explicit DeviceWeights(const ir::Graph& graph);
  // Device address of a constant value; nullptr for values that are not uploaded constants.
  void* find(const ir::Value* v) const;
  size_t bytes() const { return buffer_.size(); }

 private:
  DeviceBuffer buffer_;
  std::unordered_map<const ir::Value*, size_t> offsets_;
};

// The engine's weights, uploading them on first use.
std::shared_ptr<const DeviceWeights> device_weights_for(const Engine::Impl& engine);

}  // namespace kiln::cuda
