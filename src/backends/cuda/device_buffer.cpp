// Device memory ownership through the installed allocator or cudaMalloc/cudaFree.
#include "backends/cuda/device_buffer.hpp"

#include <cstdint>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"
#include "kiln/device_allocator.hpp"

namespace kiln::cuda {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (!bytes) return;
  allocator_ = device_allocator();
  if (!allocator_) {
    KILN_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
    return;
  }
  ptr_ = allocator_->allocate(bytes);
  if (!ptr_) {
    fail(ErrorCode::kInvalidArgument, "the application's device allocator could not give ", bytes,
         " bytes");
  }
  if (reinterpret_cast<uintptr_t>(ptr_) % kDeviceAlignment != 0) {
    allocator_->deallocate(ptr_);
    ptr_ = nullptr;
    fail(ErrorCode::kInvalidArgument, "the application's device allocator returned memory ",
         "aligned to less than ", kDeviceAlignment, " bytes");
  }
}

DeviceBuffer::~DeviceBuffer() {
  if (!ptr_) return;
  // No throw from a destructor; a failed free is not actionable.
  if (allocator_) {
    allocator_->deallocate(ptr_);
  } else {
    cudaFree(ptr_);
  }
}

}  // namespace kiln::cuda
