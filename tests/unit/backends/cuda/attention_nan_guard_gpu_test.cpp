// ScaledDotProductAttention's zero_nan_rows (the Where(IsNaN(P), 0, P) guard of PyTorch's exports,
// folded in by recognize_attention) on CUDA against the CPU reference: a query row whose keys are
// all masked with -inf gives 0 with the guard and NaN without it, in both backends.
#include <gtest/gtest.h>

#include <cmath>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;

const GpuCaseTable kFullyMaskedRowsGiveZeroOrNanCases(
    "AttentionNanGuardGpu.FullyMaskedRowsGiveZeroOrNan", [] {
      // Mask [1, 1, 4, 4]: row 1 masks every key, row 2 one key.
      std::vector<double> mask(16, 0.0);
      for (int j = 0; j < 4; ++j) mask[4 + j] = -INFINITY;
      mask[8 + 3] = -INFINITY;
      std::vector<GpuCase> cases;
      for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16}) {
        for (int64_t guard : {0, 1}) {
          for (int64_t k_transposed : {0, 1}) {
            const Shape k_shape = k_transposed ? Shape{2, 3, 8, 4} : Shape{2, 3, 4, 8};
            GpuCase c = make_case(
                "ScaledDotProductAttention",
                {input(t, {2, 3, 4, 8}), input(t, k_shape), input(t, {2, 3, 4, 8}),
                 constant(t, {1, 1, 4, 4}, mask)},
                attrs(
                    {{"scale", 0.35f}, {"k_transposed", k_transposed}, {"zero_nan_rows", guard}}));
            c.name += guard ? " zero_nan_rows" : " (NaN rows)";
            c.name += k_transposed ? " K^T" : "";
            cases.push_back(c);
          }
        }
      }
      return cases;
    });

TEST(AttentionNanGuardGpu, FullyMaskedRowsGiveZeroOrNan) {
  run_table(kFullyMaskedRowsGiveZeroOrNanCases);
}

}  // namespace
}  // namespace kiln::test
