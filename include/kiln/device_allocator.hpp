// Application-supplied device memory for GPU engines (like TensorRT's IGpuAllocator).
#pragma once

#include <cstddef>

namespace kiln {

// Where GPU engines get device memory (weights, activations, kernel scratch, staging): cudaMalloc
// and cudaFree unless the application installs its own, e.g. its framework's caching allocator.
// Implementations must be thread-safe and return memory aligned to at least 256 bytes.
class DeviceAllocator {
 public:
  virtual ~DeviceAllocator() = default;
  // nullptr when the memory cannot be had: kiln then throws an Error saying how much it asked for.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) noexcept = 0;
};

// Installs `allocator` for every later device allocation (nullptr restores cudaMalloc). Memory
// goes back to the allocator it came from, so switching while engines live is safe; the
// allocator must outlive the memory it gave.
void set_device_allocator(DeviceAllocator* allocator);
DeviceAllocator* device_allocator();

}  // namespace kiln
