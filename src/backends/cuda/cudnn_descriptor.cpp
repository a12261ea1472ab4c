// cuDNN backend descriptor ownership and checked attribute setters.
#include "backends/cuda/cudnn_descriptor.hpp"

#include "backends/cuda/cuda_check.hpp"

namespace kiln::cuda {

CudnnDescriptor::CudnnDescriptor(cudnnBackendDescriptorType_t type) {
  KILN_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_));
}

CudnnDescriptor::~CudnnDescriptor() {
  if (d_) cudnnBackendDestroyDescriptor(d_);
}

CudnnDescriptor& CudnnDescriptor::set(cudnnBackendAttributeName_t name,
                                      cudnnBackendAttributeType_t type, int64_t count,
                                      const void* values) {
  KILN_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values));
  return *this;
}

CudnnDescriptor& CudnnDescriptor::set_int(cudnnBackendAttributeName_t name, int64_t v) {
  return set(name, CUDNN_TYPE_INT64, 1, &v);
}

CudnnDescriptor& CudnnDescriptor::set_ints(cudnnBackendAttributeName_t name,
                                           const std::vector<int64_t>& v) {
  return set(name, CUDNN_TYPE_INT64, static_cast<int64_t>(v.size()), v.data());
}

CudnnDescriptor& CudnnDescriptor::set_data_type(cudnnBackendAttributeName_t name,
                                                cudnnDataType_t v) {
  return set(name, CUDNN_TYPE_DATA_TYPE, 1, &v);
}

CudnnDescriptor& CudnnDescriptor::set_bool(cudnnBackendAttributeName_t name, bool v) {
  return set(name, CUDNN_TYPE_BOOLEAN, 1, &v);
}

CudnnDescriptor& CudnnDescriptor::set_descriptor(cudnnBackendAttributeName_t name,
                                                 const CudnnDescriptor& v) {
  cudnnBackendDescriptor_t d = v.get();
  return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &d);
}

CudnnDescriptor& CudnnDescriptor::set_descriptors(cudnnBackendAttributeName_t name,
                                                  const std::vector<const CudnnDescriptor*>& v) {
  std::vector<cudnnBackendDescriptor_t> raw;
  for (const CudnnDescriptor* d : v) raw.push_back(d->get());
  return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw.size()), raw.data());
}

CudnnDescriptor& CudnnDescriptor::set_handle(cudnnBackendAttributeName_t name,
                                             cudnnHandle_t handle) {
  return set(name, CUDNN_TYPE_HANDLE, 1, &handle);
}

void CudnnDescriptor::finalize() {
  KILN_CUDNN_CHECK(cudnnBackendFinalize(d_));
}

cudnnStatus_t CudnnDescriptor::try_finalize() {
  return cudnnBackendFinalize(d_);
}

}  // namespace kiln::cuda
