// The register-cached row kernels (row_cache.cuh) against the CPU reference: Softmax, LogSoftmax
// and LayerNormalization over row widths that hit every configuration (a warp per row up to 1024, a
// block up to 8192, the multi-pass kernels past it), widths that rule out vector loads (odd, 4097),
// few and many rows; float32, float16 and bfloat16. Also the normalizations that share the LN
// kernels (RMSNorm, GroupNorm, LN's Mean/InvStdDev outputs); each LayerNorm kernel is forced in
// turn.
#include <gtest/gtest.h>

#include <cstdlib>

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

const GpuCaseTable kSoftmaxAndLogSoftmaxCases("RowCacheGpu.SoftmaxAndLogSoftmax", [] {
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
  return cases;
});

TEST(RowCacheGpu, SoftmaxAndLogSoftmax) {
  run_table(kSoftmaxAndLogSoftmaxCases);
}

// The LayerNorm/RMSNorm cases of rows by column, each kernel pinned in turn through
// BuilderConfig::tactics (warp_rows: whole 16-byte chunks, up to 8 per lane, a parameter per
// column; cached_rows: up to 8192 values; block_rows: any), then the default choice.
std::vector<GpuCase> norm_cases(const std::string& kernel) {
  auto takes = [&](DT t, int64_t w, bool per_column = true) {
    const int64_t n = t == DT::kFloat32 ? 4 : 8;
    if (kernel == "warp_rows") return per_column && w % n == 0 && w / n <= 256;
    if (kernel == "cached_rows") return w <= 8192;
    return true;
  };
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    for (int64_t w : kWidths) {
      if (!takes(t, w)) continue;
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
    // Mean and InvStdDev outputs (float32 by stash_type).
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {33, 320}, -3, 3), input(t, {320}), input(t, {320})},
                              attrs({{"axis", int64_t{-1}}}), 3));
    // Normalized over the last two axes.
    cases.push_back(
        make_case("LayerNormalization",
                  {input(t, {6, 12, 64}, -3, 3), input(t, {12, 64}), input(t, {12, 64})},
                  attrs({{"axis", int64_t{1}}})));
    if (takes(t, 2048)) {
      cases.push_back(
          make_case("RMSNormalization", {input(t, {40, 2048}, -2, 2), input(t, {2048})}));
    }
    if (takes(t, 4096)) {
      cases.push_back(
          make_case("RMSNormalization", {input(t, {40, 4096}, -2, 2), input(t, {4096})}));
    }
    if (kernel != "warp_rows") {  // one scale for every column
      cases.push_back(make_case("LayerNormalization", {input(t, {5, 64}), input(t, {1})}));
    }
  }
  return cases;
}

TEST(RowCacheGpu, LayerNormalizationEachKernel) {
  for (const char* kernel : {"warp_rows", "cached_rows", "block_rows"}) {
    SCOPED_TRACE(kernel);
    std::vector<GpuCase> cases = norm_cases(kernel);
    for (GpuCase& c : cases) c.tactic = kernel;
    run_table(cases);
  }
}

const GpuCaseTable kLayerNormalizationDefaultChoiceCases(
    "RowCacheGpu.LayerNormalizationDefaultChoice", [] {
      std::vector<GpuCase> cases = norm_cases("");
      for (DT t : kFloats) {
        cases.push_back(make_case("GroupNormalization",
                                  {input(t, {2, 8, 16, 16}), input(t, {8}), input(t, {8})},
                                  attrs({{"num_groups", int64_t{4}}})));
      }
      return cases;
    });

TEST(RowCacheGpu, LayerNormalizationDefaultChoice) {
  run_table(kLayerNormalizationDefaultChoiceCases);
}

}  // namespace
}  // namespace kiln::test
