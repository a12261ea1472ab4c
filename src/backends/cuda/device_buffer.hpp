// Owning handle to device memory: from the application's DeviceAllocator when one is installed
// (kiln.hpp), else cudaMalloc; freed the same way it came.
#pragma once

#include <cstddef>
#include <utility>

namespace kiln {
class DeviceAllocator;
}

namespace kiln::cuda {

// Every device buffer starts at least this aligned (what cudaMalloc gives; vector loads and
// cuBLASLt/cuDNN rely on it).
constexpr size_t kDeviceAlignment = 256;

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)),
        bytes_(o.bytes_),
        allocator_(std::exchange(o.allocator_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    std::swap(allocator_, o.allocator_);
    return *this;
  }

  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  DeviceAllocator* allocator_ = nullptr;  // the one that gave ptr_; nullptr: cudaMalloc
};

}  // namespace kiln::cuda
