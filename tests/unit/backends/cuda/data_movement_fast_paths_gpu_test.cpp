// The fast data-movement paths against the CPU reference, one case per path and edge: Transpose
// (and the other strided copies) through memcpy, the vectorised row copy (innermost axis stays,
// aligned or not) and the tiled transpose (innermost axis moves, odd sizes); Gather of whole
// slices (scalar and runtime indices); packed Cast with leftover elements.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kTypes[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kInt64, DT::kBool};

ir::AttrValue ints(std::vector<int64_t> v) {
  return ir::AttrValue(std::move(v));
}

GpuCase transpose(DT t, Shape shape, std::vector<int64_t> perm, const std::string& path) {
  GpuCase c =
      make_case("Transpose", {input(t, std::move(shape), -9, 9)}, attrs({{"perm", ints(perm)}}));
  c.name += " perm" + shape_to_string(Shape(perm.begin(), perm.end())) + " (" + path + ")";
  return c;
}

const GpuCaseTable kTransposeInnermostStaysCases(
    "DataMovementFastPathsGpu.TransposeInnermostStays", [] {
      std::vector<GpuCase> cases;
      for (DT t : kTypes) {
        // BERT's head split: 64-element runs, 16-byte vectors for 2-byte types and wider.
        cases.push_back(transpose(t, {4, 16, 12, 64}, {0, 2, 1, 3}, "rows, aligned"));
        // ViT's packed qkv [B, S, 3, H, D] -> [3, B, H, S, D].
        cases.push_back(transpose(t, {2, 7, 3, 4, 64}, {2, 0, 3, 1, 4}, "rows, 5-D"));
        // Runs of 3 and 5 elements: narrower vectors, odd row counts.
        cases.push_back(transpose(t, {2, 5, 7, 3}, {0, 2, 1, 3}, "rows, 3-element runs"));
        cases.push_back(transpose(t, {3, 11, 5}, {1, 0, 2}, "rows, 5-element runs"));
        // Runs longer than one row chunk (2048 vectors).
        cases.push_back(transpose(t, {3, 2, 4100}, {1, 0, 2}, "rows, chunked"));
        // Only size-1 axes move: one contiguous copy.
        cases.push_back(transpose(t, {1, 5, 1, 7}, {2, 0, 1, 3}, "memcpy"));
      }
      return cases;
    });

TEST(DataMovementFastPathsGpu, TransposeInnermostStays) {
  run_table(kTransposeInnermostStaysCases);
}

const GpuCaseTable kTransposeInnermostMovesCases(
    "DataMovementFastPathsGpu.TransposeInnermostMoves", [] {
      std::vector<GpuCase> cases;
      for (DT t : kTypes) {
        cases.push_back(transpose(t, {65, 129}, {1, 0}, "tiled, partial tiles"));
        cases.push_back(transpose(t, {2, 33, 17}, {0, 2, 1}, "tiled, batched"));
        cases.push_back(transpose(t, {2, 4, 64, 32}, {0, 1, 3, 2}, "tiled, K^T"));
        cases.push_back(transpose(t, {2, 3, 9, 10}, {0, 2, 3, 1}, "short rows, NCHW->NHWC image"));
        cases.push_back(transpose(t, {2, 8, 5, 7}, {0, 2, 3, 1}, "short rows, 8 channels"));
        cases.push_back(transpose(t, {3, 9, 33}, {0, 2, 1}, "tiled, 9 channels"));
        cases.push_back(transpose(t, {2, 9, 10, 3}, {0, 3, 1, 2}, "tiled, NHWC->NCHW"));
        cases.push_back(transpose(t, {3, 4, 5, 6}, {3, 2, 1, 0}, "tiled, reversed"));
        cases.push_back(transpose(t, {1, 1, 31}, {2, 0, 1}, "memcpy, one row"));
        cases.push_back(transpose(t, {37, 1}, {1, 0}, "memcpy, one column"));
      }
      return cases;
    });

TEST(DataMovementFastPathsGpu, TransposeInnermostMoves) {
  run_table(kTransposeInnermostMovesCases);
}

const GpuCaseTable kOtherStridedCopiesCases("DataMovementFastPathsGpu.OtherStridedCopies", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    // Concat along an outer axis writes rows at strides of the output.
    cases.push_back(make_case("Concat", {input(t, {2, 3, 64}, -9, 9), input(t, {2, 5, 64}, -9, 9)},
                              attrs({{"axis", int64_t{1}}})));
    // A Slice starting one element into the innermost axis: rows that are not 16-byte aligned.
    cases.push_back(
        make_case("Slice", {input(t, {4, 70}, -9, 9), constant(DT::kInt64, {1}, {1}),
                            constant(DT::kInt64, {1}, {65}), constant(DT::kInt64, {1}, {1})}));
    // A negative step on an outer axis: rows walked backwards.
    cases.push_back(
        make_case("Slice", {input(t, {6, 3, 16}, -9, 9), constant(DT::kInt64, {1}, {-1}),
                            constant(DT::kInt64, {1}, {-100}), constant(DT::kInt64, {1}, {0}),
                            constant(DT::kInt64, {1}, {-2})}));
    // A step on the innermost axis: the general strided kernel.
    cases.push_back(make_case(
        "Slice",
        {input(t, {4, 10}, -9, 9), constant(DT::kInt64, {1}, {1}), constant(DT::kInt64, {1}, {10}),
         constant(DT::kInt64, {1}, {1}), constant(DT::kInt64, {1}, {3})}));
    // Broadcast outer axes (source stride 0) with contiguous rows.
    cases.push_back(
        make_case("Expand", {input(t, {3, 1, 24}, -9, 9), constant(DT::kInt64, {3}, {3, 4, 24})}));
    // Broadcast innermost axis: the general kernel.
    cases.push_back(
        make_case("Expand", {input(t, {3, 1}, -9, 9), constant(DT::kInt64, {2}, {3, 33})}));
  }
  return cases;
});

TEST(DataMovementFastPathsGpu, OtherStridedCopies) {
  run_table(kOtherStridedCopiesCases);
}

const GpuCaseTable kGatherSlicesCases("DataMovementFastPathsGpu.GatherSlices", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    // ViT's q/k/v split: a scalar index on axis 0 of the packed tensor.
    for (double i : {0.0, 2.0, -1.0}) {
      cases.push_back(
          make_case("Gather", {input(t, {3, 2, 4, 5, 64}, -9, 9), constant(DT::kInt64, {}, {i})}));
    }
    // The same with a runtime (int32) index.
    cases.push_back(
        make_case("Gather", {input(t, {3, 2, 4, 5, 64}, -9, 9), input(DT::kInt32, {}, 0, 3)}));
    // Embedding rows (runtime indices, some negative) and slices of an inner axis.
    cases.push_back(
        make_case("Gather", {input(t, {300, 96}, -9, 9), input(DT::kInt64, {2, 7}, -300, 300)}));
    cases.push_back(make_case("Gather",
                              {input(t, {4, 6, 40}, -9, 9), constant(DT::kInt64, {3}, {5, 0, -2})},
                              attrs({{"axis", int64_t{1}}})));
    // Slices of 9 elements: no 16-byte vectors for any of these types.
    cases.push_back(
        make_case("Gather", {input(t, {5, 9}, -9, 9), constant(DT::kInt64, {2}, {4, 1})}));
    // Slices longer than one row chunk.
    cases.push_back(
        make_case("Gather", {input(t, {2, 4500}, -9, 9), constant(DT::kInt64, {}, {1})}));
  }
  return cases;
});

TEST(DataMovementFastPathsGpu, GatherSlices) {
  run_table(kGatherSlicesCases);
}

const GpuCaseTable kCastPacksAndLeftoversCases(
    "DataMovementFastPathsGpu.CastPacksAndLeftovers", [] {
      const DT all[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16,
                        DT::kInt64,   DT::kBool,    DT::kUInt8};
      std::vector<GpuCase> cases;
      for (DT from : all) {
        for (DT to : all) {
          // 3 * 1001 elements: whole packs of every size, then a few left over.
          for (Shape shape : {Shape{3, 1001}, Shape{4096}, Shape{1}}) {
            GpuCase c =
                make_case("Cast", {input(from, shape, -300, 300)}, attrs({{"to", dtype_name(to)}}));
            c.name += " to " + dtype_name(to);
            c.rtol = 0;
            c.atol = 0;
            cases.push_back(c);
          }
        }
      }
      return cases;
    });

TEST(DataMovementFastPathsGpu, CastPacksAndLeftovers) {
  run_table(kCastPacksAndLeftoversCases);
}

}  // namespace
}  // namespace kiln::test
