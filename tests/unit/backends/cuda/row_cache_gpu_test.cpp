// The register-cached row kernels (row_cache.cuh) against the CPU reference: Softmax, LogSoftmax
// and LayerNormalization over row widths that hit every configuration (a warp per row up to 1024, a
// block up to 8192, the multi-pass kernels past it), widths that rule out vector loads (odd, 4097),
// few and many rows; float32, float16 and bfloat16. Also the normalizations that share the LN
// kernel (RMSNorm, GroupNorm, LN's Mean/InvStdDev outputs).
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kFloats[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16};
// 1 and 31: a warp with idle lanes, no vectors; 128..1024: each warp configuration; 3072: a
// block; 4097: a block without vectors; 8192: the widest cached row; 8193: the multi-pass kernel.
const int64_t kWidths[] = {1, 31, 128, 200, 768, 1024, 1025, 3072, 4097, 8192, 8193};

// Rows: 5 leaves the last block of four warp-rows partly idle; 2000 needs many blocks.
int64_t rows_for(int64_t width) {
  return width <= 1024 ? 2000 : 5;
}

TEST(RowCacheGpu, SoftmaxAndLogSoftmax) {
  std::vector<GpuCase> cases;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (DT t : kFloats) {
      for (int64_t w : kWidths) {
        cases.push_back(make_case(op, {input(t, {rows_for(w), w}, -8, 8)}));
        cases.push_back(make_case(op, {input(t, {5, w}, -8, 8)}));
      }
      // Large logits: the row maximum must be subtracted before exp.
      cases.push_back(make_case(op, {input(t, {3, 768}, 50, 80)}));
      // 3-D with the softmax over the last axis (rows = 2 * 12).
      cases.push_back(make_case(op, {input(t, {2, 12, 197}, -8, 8)}));
    }
  }
  run_table(cases);
}

TEST(RowCacheGpu, LayerNormalization) {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    for (int64_t w : kWidths) {
      cases.push_back(make_case("LayerNormalization",
                                {input(t, {rows_for(w), w}, -3, 3), input(t, {w}), input(t, {w})},
                                attrs({{"axis", int64_t{-1}}, {"epsilon", 1e-5f}})));
    }
    // An offset mean with a small spread: statistics from the cached row, not E[x^2] - E[x]^2.
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {64, 768}, 40, 41), input(t, {768}), input(t, {768})}));
    // No bias.
    cases.push_back(make_case("LayerNormalization", {input(t, {7, 768}), input(t, {768})}));
    // BERT/ViT widths with many rows.
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {4, 197, 768}, -3, 3), input(t, {768}), input(t, {768})}));
    // Mean and InvStdDev outputs (float32 by stash_type) from the cached kernel.
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {33, 300}, -3, 3), input(t, {300}), input(t, {300})},
                              attrs({{"axis", int64_t{-1}}}), 3));
    // Normalized over the last two axes.
    cases.push_back(
        make_case("LayerNormalization",
                  {input(t, {6, 12, 64}, -3, 3), input(t, {12, 64}), input(t, {12, 64})},
                  attrs({{"axis", int64_t{1}}})));
    cases.push_back(make_case("RMSNormalization", {input(t, {40, 4096}, -2, 2), input(t, {4096})}));
    cases.push_back(make_case("GroupNormalization",
                              {input(t, {2, 8, 16, 16}), input(t, {8}), input(t, {8})},
                              attrs({{"num_groups", int64_t{4}}})));
  }
  run_table(cases);
}

}  // namespace
}  // namespace kiln::test
