// cudaMalloc/cudaFree ownership.
#include "backends/cuda/device_buffer.hpp"

#include "backends/cuda/cuda_check.hpp"

namespace kiln::cuda {

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes) KILN_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);  // no throw from a destructor; a failed free is not actionable
}

}  // namespace kiln::cuda
