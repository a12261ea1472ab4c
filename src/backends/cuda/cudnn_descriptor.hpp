// An owning handle to one cuDNN graph-API (backend) descriptor, with typed attribute setters, so
// the convolution code reads as the list of attributes it sets. Every call is status-checked.
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace kiln::cuda {

class CudnnDescriptor {
 public:
  CudnnDescriptor() = default;
  explicit CudnnDescriptor(cudnnBackendDescriptorType_t type);
  ~CudnnDescriptor();
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  CudnnDescriptor(CudnnDescriptor&& o) noexcept : d_(std::exchange(o.d_, nullptr)) {}
  CudnnDescriptor& operator=(CudnnDescriptor&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }

  cudnnBackendDescriptor_t get() const { return d_; }
  explicit operator bool() const { return d_ != nullptr; }

  CudnnDescriptor& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                       int64_t count, const void* values);
  CudnnDescriptor& set_int(cudnnBackendAttributeName_t name, int64_t v);
  CudnnDescriptor& set_ints(cudnnBackendAttributeName_t name, const std::vector<int64_t>& v);
  CudnnDescriptor& set_data_type(cudnnBackendAttributeName_t name, cudnnDataType_t v);
  CudnnDescriptor& set_bool(cudnnBackendAttributeName_t name, bool v);
  CudnnDescriptor& set_descriptor(cudnnBackendAttributeName_t name, const CudnnDescriptor& v);
  CudnnDescriptor& set_descriptors(cudnnBackendAttributeName_t name,
                                   const std::vector<const CudnnDescriptor*>& v);
  CudnnDescriptor& set_handle(cudnnBackendAttributeName_t name, cudnnHandle_t handle);
  void finalize();
  // Finalize without throwing: engines that cannot run a graph report so here, which is normal
  // while trying a heuristic's candidates.
  cudnnStatus_t try_finalize();

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

}  // namespace kiln::cuda
