// cuBLASLt kernel helpers: alignment and tactic choice.
#include "backends/cuda/lt_tactics.hpp"

#include <algorithm>
#include <optional>

namespace kiln::cuda {

int operand_alignment(int64_t offset_elements, size_t element_size) {
  return std::min(kLtBaseAlignment,
                  alignment_of(offset_elements * static_cast<int64_t>(element_size)));
}

void check_base_alignment(const CudaKernelContext& ctx, const void* p, const char* what) {
  if (p && reinterpret_cast<uintptr_t>(p) % kLtBaseAlignment != 0) {
    ctx.fail(ErrorCode::kInvalidArgument, "the device buffer of ", what, " is not ",
             kLtBaseAlignment, "-byte aligned");
  }
}

LtProblem lt_problem_for(const MatmulPlan& plan, DataType dtype, bool allow_tf32) {
  const size_t es = element_size(dtype);
  LtProblem p;
  p.dtype = dtype;
  p.m = plan.m;
  p.n = plan.n;
  p.k = plan.k;
  p.batch = plan.batch;
  p.stride_a = plan.stride_a;
  p.stride_b = plan.stride_b;
  p.stride_d = plan.stride_c;
  p.allow_tf32 = allow_tf32;
  p.alignment_a = operand_alignment(plan.stride_a, es);
  p.alignment_b = operand_alignment(plan.stride_b, es);
  p.alignment_d = operand_alignment(plan.stride_c, es);
  for (const MatmulPlan::Call& c : plan.calls) {
    p.alignment_a = std::min(p.alignment_a, operand_alignment(c.a, es));
    p.alignment_b = std::min(p.alignment_b, operand_alignment(c.b, es));
    p.alignment_d = std::min(p.alignment_d, operand_alignment(c.c, es));
  }
  return p;
}

void choose_algorithm(const CudaKernelContext& ctx, LtMatmul& lt, const std::string& signature,
                      const LtLaunch& launch) {
  lt.select(0);
  TacticTuner* tuner = ctx.libs ? ctx.libs->tuner : nullptr;
  if (!tuner || lt.num_candidates() == 0) return;
  std::vector<std::string> names;
  std::vector<size_t> workspace;
  for (size_t i = 0; i < lt.num_candidates(); ++i) {
    names.push_back(lt.candidate_name(i));
    workspace.push_back(lt.candidate_workspace(i));
  }
  size_t max_workspace = *std::max_element(workspace.begin(), workspace.end());
  std::optional<TuningScratch> scratch;
  lt.select(
      tuner->choose(ctx.node, signature, names, workspace, [&](size_t i, cudaStream_t stream) {
        if (!scratch) scratch.emplace(ctx, max_workspace);
        launch(i, *scratch, stream);
      }));
}

}  // namespace kiln::cuda
