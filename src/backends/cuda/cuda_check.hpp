// Status checks for every CUDA, cuBLAS and cuDNN call: a failure throws kiln::Error naming the
// call, the status and where it happened. One macro per library so the call text is captured.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace kiln::cuda {

void check_cuda(cudaError_t status, const char* call, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);
void check_cudnn(cudnnStatus_t status, const char* call, const char* file, int line);

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call) ::kiln::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define KILN_CUBLAS_CHECK(call) ::kiln::cuda::check_cublas((call), #call, __FILE__, __LINE__)
#define KILN_CUDNN_CHECK(call) ::kiln::cuda::check_cudnn((call), #call, __FILE__, __LINE__)
