// Error messages for failed CUDA library calls.
#include "backends/cuda/cuda_check.hpp"

#include "core/error.hpp"

namespace kiln::cuda {

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  fail(ErrorCode::kInternal, "CUDA call ", call, " failed: ", cudaGetErrorName(status), " (",
       cudaGetErrorString(status), ") at ", file, ":", line);
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(ErrorCode::kInternal, "cuBLAS call ", call, " failed with status ", static_cast<int>(status),
       " at ", file, ":", line);
}

void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  fail(ErrorCode::kInternal, "cuDNN call ", call, " failed: ", cudnnGetErrorString(status), " at ",
       file, ":", line);
}

}  // namespace kiln::cuda
