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
