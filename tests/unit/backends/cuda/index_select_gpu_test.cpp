// CUDA GatherND, ScatterND, ScatterElements, TopK and Hardmax against the CPU reference, over
// float, reduced-float and integer types, constant and runtime indices, batch dims, every scatter
// reduction (with duplicate indices) and ties.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kTypes[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kInt64};

GpuInput runtime_indices(DT t, Shape s, double low, double high) {
  return input(t, std::move(s), low, high);
}

const GpuCaseTable kGatherNDCases("IndexSelectGpu.GatherND", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    // Full tuples (single elements), partial tuples (slices), negative constant indices.
    cases.push_back(make_case(
        "GatherND", {input(t, {4, 5}, -9, 9), constant(DT::kInt64, {3, 2}, {0, 1, 3, -1, -4, 2})}));
    cases.push_back(make_case(
        "GatherND", {input(t, {4, 5, 6}, -9, 9), runtime_indices(DT::kInt64, {2, 3, 1}, -4, 4)}));
    cases.push_back(make_case(
        "GatherND", {input(t, {3, 4, 5}, -9, 9), runtime_indices(DT::kInt64, {7, 2}, 0, 3)}));
    // batch_dims: BERT's dynamo export gathers one row per batch.
    cases.push_back(make_case(
        "GatherND", {input(t, {2, 6, 8}, -9, 9), runtime_indices(DT::kInt64, {2, 1}, 0, 6)},
        attrs({{"batch_dims", int64_t{1}}})));
    cases.push_back(
        make_case("GatherND",
                  {input(t, {2, 3, 4, 5}, -9, 9), runtime_indices(DT::kInt64, {2, 3, 4, 1}, -4, 4)},
                  attrs({{"batch_dims", int64_t{2}}})));
    // Empty indices.
    cases.push_back(make_case(
        "GatherND", {input(t, {4, 5}, -9, 9), runtime_indices(DT::kInt64, {0, 1}, 0, 4)}));
  }
  return cases;
});

TEST(IndexSelectGpu, GatherND) {
  run_table(kGatherNDCases);
}

const GpuCaseTable kScatterNDCases("IndexSelectGpu.ScatterND", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    // reduction none: distinct indices (duplicates leave an unspecified update).
    cases.push_back(
        make_case("ScatterND", {input(t, {5, 4}, -9, 9), constant(DT::kInt64, {3, 1}, {4, 0, -3}),
                                input(t, {3, 4}, -9, 9)}));
    cases.push_back(make_case(
        "ScatterND",
        {input(t, {4, 5, 3}, -9, 9), constant(DT::kInt64, {2, 2, 2}, {0, 1, 3, 4, 2, 2, 1, 0}),
         input(t, {2, 2, 3}, -9, 9)}));
    // swin_t's shifted-window mask: a block of full tuples set to one value.
    cases.push_back(make_case("ScatterND", {input(t, {1, 6, 6, 1}, -9, 9),
                                            constant(DT::kInt64, {2, 4}, {0, 4, 5, 0, 0, 5, 4, 0}),
                                            input(t, {2}, -9, 9)}));
    // Reductions with duplicate runtime indices: every update must land.
    for (const char* r : {"add", "mul", "max", "min"}) {
      cases.push_back(
          make_case("ScatterND",
                    {input(t, {6, 3}, -3, 3), runtime_indices(DT::kInt64, {9, 1}, -6, 6),
                     input(t, {9, 3}, -3, 3)},
                    attrs({{"reduction", std::string(r)}})));
      cases.push_back(make_case("ScatterND",
                                {input(t, {3, 4}, -3, 3),
                                 runtime_indices(DT::kInt64, {10, 2}, 0, 3), input(t, {10}, -3, 3)},
                                attrs({{"reduction", std::string(r)}})));
    }
  }
  // Narrow types go through the 32-bit word that holds them.
  for (DT t : {DT::kUInt8, DT::kInt32, DT::kBool}) {
    cases.push_back(make_case("ScatterND",
                              {input(t, {7, 3}, -3, 9), runtime_indices(DT::kInt64, {12, 1}, 0, 7),
                               input(t, {12, 3}, -3, 9)},
                              attrs({{"reduction", std::string("add")}})));
    cases.push_back(make_case("ScatterND",
                              {input(t, {7, 3}, -3, 9), runtime_indices(DT::kInt64, {12, 1}, 0, 7),
                               input(t, {12, 3}, -3, 9)},
                              attrs({{"reduction", std::string("max")}})));
  }
  return cases;
});

TEST(IndexSelectGpu, ScatterND) {
  run_table(kScatterNDCases);
}

const GpuCaseTable kScatterElementsCases("IndexSelectGpu.ScatterElements", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    cases.push_back(
        make_case("ScatterElements",
                  {input(t, {3, 4}, -9, 9), constant(DT::kInt64, {2, 3}, {1, 0, -1, 2, 3, 0}),
                   input(t, {2, 3}, -9, 9)},
                  attrs({{"axis", int64_t{1}}})));
    cases.push_back(
        make_case("ScatterElements",
                  {input(t, {4, 3, 2}, -9, 9), constant(DT::kInt32, {1, 3, 2}, {3, 0, -1, 2, 1, 0}),
                   input(t, {1, 3, 2}, -9, 9)},
                  attrs({{"axis", int64_t{0}}})));
    for (const char* r : {"add", "mul", "max", "min"}) {
      cases.push_back(
          make_case("ScatterElements",
                    {input(t, {4, 5}, -3, 3), runtime_indices(DT::kInt64, {4, 8}, -5, 5),
                     input(t, {4, 8}, -3, 3)},
                    attrs({{"axis", int64_t{-1}}, {"reduction", std::string(r)}})));
    }
  }
  cases.push_back(
      make_case("Scatter", {input(DT::kFloat32, {3, 3}), constant(DT::kInt64, {1, 3}, {2, 0, 1}),
                            input(DT::kFloat32, {1, 3})}));
  return cases;
});

TEST(IndexSelectGpu, ScatterElements) {
  run_table(kScatterElementsCases);
}

const GpuCaseTable kTopKCases("IndexSelectGpu.TopK", [] {
  std::vector<GpuCase> cases;
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kInt64, DT::kInt32}) {
    for (int64_t largest : {1, 0}) {
      ir::Attributes last = attrs({{"largest", largest}});
      cases.push_back(
          make_case("TopK", {input(t, {3, 17}, -9, 9), constant(DT::kInt64, {1}, {5})}, last, 2));
      // Narrow integer range: many ties, broken by the lower index.
      cases.push_back(
          make_case("TopK", {input(t, {4, 40}, -3, 3), constant(DT::kInt64, {1}, {12})}, last, 2));
      // A middle axis (strided rows), k = n, and a long row on a full block.
      cases.push_back(make_case("TopK",
                                {input(t, {2, 9, 5}, -9, 9), constant(DT::kInt64, {1}, {9})},
                                attrs({{"axis", int64_t{1}}, {"largest", largest}}), 2));
      cases.push_back(
          make_case("TopK", {input(t, {2, 3000}, -9, 9), constant(DT::kInt64, {1}, {7})}, last, 2));
      cases.push_back(
          make_case("TopK", {input(t, {4, 6}, -9, 9), constant(DT::kInt64, {1}, {0})}, last, 2));
    }
  }
  return cases;
});

TEST(IndexSelectGpu, TopK) {
  run_table(kTopKCases);
}

const GpuCaseTable kHardmaxCases("IndexSelectGpu.Hardmax", [] {
  std::vector<GpuCase> cases;
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16}) {
    cases.push_back(make_case("Hardmax", {input(t, {3, 17}, -9, 9)}));
    cases.push_back(
        make_case("Hardmax", {input(t, {2, 4, 5}, -2, 2)}, attrs({{"axis", int64_t{1}}})));
    cases.push_back(make_case("Hardmax", {input(t, {2, 2000})}));
    cases.push_back(make_case("Hardmax", {input(t, {2, 3, 4})},
                              attrs({{"axis", int64_t{1}}, {"coerce_2d", int64_t{1}}})));
  }
  // Ties among few distinct values: the first maximum wins.
  cases.push_back(make_case("Hardmax", {constant(DT::kFloat32, {2, 4}, {1, 3, 3, 0, 2, 2, 2, 2})}));
  return cases;
});

TEST(IndexSelectGpu, Hardmax) {
  run_table(kHardmaxCases);
}

}  // namespace
}  // namespace kiln::test
