// The process's device allocator setting (kiln.hpp): read by every device allocation of the CUDA
// backend; kept here so the API exists in builds without CUDA too.
#include <atomic>

#include "kiln/device_allocator.hpp"

namespace kiln {
namespace {

std::atomic<DeviceAllocator*>& current() {
  static std::atomic<DeviceAllocator*> allocator{nullptr};
  return allocator;
}

}  // namespace

void set_device_allocator(DeviceAllocator* allocator) {
  current().store(allocator);
}

DeviceAllocator* device_allocator() {
  return current().load();
}

}  // namespace kiln
