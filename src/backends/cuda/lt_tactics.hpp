// Helpers shared by the cuBLASLt-backed kernels (MatMul, Gemm, FusedMatMul): operand alignment
// facts for the heuristic, the bound-buffer alignment check, and the tuner's choice among the
// heuristic's algorithms.
#pragma once

#include <functional>
#include <string>

#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/matmul_cublaslt.hpp"
#include "backends/cuda/matmul_plan.hpp"
#include "backends/cuda/tactic.hpp"

namespace kiln::cuda {

// Kernels assume at least this alignment of every tensor's base address (the arena, the weights
// and cudaMalloc give 256); enqueue() checks bound buffers against it.
constexpr int kLtBaseAlignment = 16;

// The alignment an operand at `offset_elements` from an aligned base is guaranteed to have.
int operand_alignment(int64_t offset_elements, size_t element_size);

// The cuBLASLt problem of a planned (batched) product in `dtype`: sizes, batch strides, and the
// operand alignments every call's offsets allow. Callers add transposes and epilogues.
LtProblem lt_problem_for(const MatmulPlan& plan, DataType dtype, bool allow_tf32);

void check_base_alignment(const CudaKernelContext& ctx, const void* p, const char* what);

// Picks the cuBLASLt algorithm: the tuner times the heuristic's candidates (on scratch buffers,
// since the real ones are not bound during prepare) or takes the cached/first one.
// `launch(candidate, scratch, stream)` runs the layer's calls with one candidate.
using LtLaunch = std::function<void(size_t, const TuningScratch&, cudaStream_t)>;
void choose_algorithm(const CudaKernelContext& ctx, LtMatmul& lt, const std::string& signature,
                      const LtLaunch& launch);

}  // namespace kiln::cuda
