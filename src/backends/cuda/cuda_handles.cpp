// Creation of the owned CUDA, cuDNN and cuBLASLt handles.
#include "backends/cuda/cuda_handles.hpp"

#include "backends/cuda/cuda_check.hpp"

namespace kiln::cuda {

CudaStream make_nonblocking_stream() {
  cudaStream_t s = nullptr;
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return CudaStream(s);
}

CudaEvent make_event() {
  cudaEvent_t e = nullptr;
  KILN_CUDA_CHECK(cudaEventCreate(&e));
  return CudaEvent(e);
}

CudnnHandle make_cudnn_handle() {
  cudnnHandle_t h = nullptr;
  KILN_CUDNN_CHECK(cudnnCreate(&h));
  return CudnnHandle(h);
}

CublasLtHandle make_cublaslt_handle() {
  cublasLtHandle_t h = nullptr;
  KILN_CUBLAS_CHECK(cublasLtCreate(&h));
  return CublasLtHandle(h);
}

}  // namespace kiln::cuda
