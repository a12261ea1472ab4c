// CUDA data-movement kernels against the CPU reference: copies, Transpose, Expand, Slice, Concat,
// Split, Gather(Elements), Pad, Tile, Depth/SpaceToDepth, Shape, Size, ConstantOfShape, Range,
// Trilu, CumSum, Rearrange.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kTypes[] = {DT::kFloat32, DT::kFloat16, DT::kInt64, DT::kUInt8};

ir::AttrValue ints(std::vector<int64_t> v) {
  return ir::AttrValue(std::move(v));
}

const GpuCaseTable kCopiesAndShapesCases("DataMovementGpu.CopiesAndShapes", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    cases.push_back(
        make_case("Reshape", {input(t, {2, 3, 4}, -9, 9), constant(DT::kInt64, {2}, {6, -1})}));
    cases.push_back(
        make_case("Flatten", {input(t, {2, 3, 4}, -9, 9)}, attrs({{"axis", int64_t{2}}})));
    cases.push_back(
        make_case("Squeeze", {input(t, {2, 1, 4}, -9, 9), constant(DT::kInt64, {1}, {1})}));
    cases.push_back(
        make_case("Unsqueeze", {input(t, {2, 4}, -9, 9), constant(DT::kInt64, {1}, {0})}));
    cases.push_back(make_case("Identity", {input(t, {5}, -9, 9)}));
    cases.push_back(make_case("Shape", {input(t, {2, 3, 4})}));
    cases.push_back(make_case("Shape", {input(t, {2, 3, 4})}, attrs({{"start", int64_t{1}}})));
    cases.push_back(make_case("Size", {input(t, {2, 3, 4})}));
  }
  cases.push_back(make_case("Dropout", {input(DT::kFloat32, {3, 7})}, {}, 2));
  cases.push_back(make_case("ConstantOfShape", {constant(DT::kInt64, {2}, {3, 5})}));
  {
    Tensor v(DT::kInt32, {1});
    v.data<int32_t>()[0] = 7;
    cases.push_back(make_case("ConstantOfShape", {constant(DT::kInt64, {3}, {2, 3, 5})},
                              attrs({{"value", v}})));
  }
  for (DT t : {DT::kFloat32, DT::kInt64, DT::kInt32}) {
    cases.push_back(
        make_case("Range", {constant(t, {}, {2}), constant(t, {}, {40}), constant(t, {}, {3})}));
  }
  return cases;
});

TEST(DataMovementGpu, CopiesAndShapes) {
  run_table(kCopiesAndShapesCases);
}

const GpuCaseTable kRearrangementsCases("DataMovementGpu.Rearrangements", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    cases.push_back(make_case("Transpose", {input(t, {2, 3, 4}, -9, 9)}));
    cases.push_back(
        make_case("Transpose", {input(t, {65, 129}, -9, 9)}, attrs({{"perm", ints({1, 0})}})));
    cases.push_back(make_case("Transpose", {input(t, {2, 12, 16, 64}, -9, 9)},
                              attrs({{"perm", ints({0, 2, 1, 3})}})));
    cases.push_back(
        make_case("Expand", {input(t, {3, 1}, -9, 9), constant(DT::kInt64, {3}, {2, 3, 4})}));
    cases.push_back(
        make_case("Slice", {input(t, {10, 12}, -9, 9), constant(DT::kInt64, {2}, {1, -1}),
                            constant(DT::kInt64, {2}, {8, -12}), constant(DT::kInt64, {2}, {0, 1}),
                            constant(DT::kInt64, {2}, {2, -3})}));
    cases.push_back(
        make_case("Slice", {input(t, {4, 6, 8}, -9, 9), constant(DT::kInt64, {1}, {2}),
                            constant(DT::kInt64, {1}, {100}), constant(DT::kInt64, {1}, {2})}));
    cases.push_back(make_case(
        "Concat",
        {input(t, {2, 3, 4}, -9, 9), input(t, {2, 1, 4}, -9, 9), input(t, {2, 5, 4}, -9, 9)},
        attrs({{"axis", int64_t{1}}})));
    cases.push_back(make_case("Concat", {input(t, {2, 3}, -9, 9), input(t, {0, 3}, -9, 9)},
                              attrs({{"axis", int64_t{0}}})));
    cases.push_back(make_case("Split",
                              {input(t, {6, 10}, -9, 9), constant(DT::kInt64, {3}, {2, 3, 5})},
                              attrs({{"axis", int64_t{1}}}), 3));
    cases.push_back(make_case("Split", {input(t, {6, 4}, -9, 9)},
                              attrs({{"axis", int64_t{0}}, {"num_outputs", int64_t{2}}}), 2));
    cases.push_back(make_case("DepthToSpace", {input(t, {2, 8, 3, 5}, -9, 9)},
                              attrs({{"blocksize", int64_t{2}}})));
    cases.push_back(make_case("DepthToSpace", {input(t, {2, 8, 3, 5}, -9, 9)},
                              attrs({{"blocksize", int64_t{2}}, {"mode", std::string("CRD")}})));
    cases.push_back(make_case("SpaceToDepth", {input(t, {2, 3, 6, 4}, -9, 9)},
                              attrs({{"blocksize", int64_t{2}}})));
    cases.push_back(
        make_case("Tile", {input(t, {2, 3, 4}, -9, 9), constant(DT::kInt64, {3}, {2, 1, 3})}));
  }
  return cases;
});

TEST(DataMovementGpu, Rearrangements) {
  run_table(kRearrangementsCases);
}

const GpuCaseTable kGatherAndPadCases("DataMovementGpu.GatherAndPad", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    cases.push_back(make_case(
        "Gather", {input(t, {5, 4, 3}, -9, 9), constant(DT::kInt64, {2, 2}, {0, -1, 3, 2})},
        attrs({{"axis", int64_t{1}}})));
    cases.push_back(make_case(
        "Gather", {input(t, {30522 / 100, 64}, -9, 9), input(DT::kInt64, {2, 7}, 0, 300)}));
    cases.push_back(make_case("Gather", {input(t, {6, 5}, -9, 9), input(DT::kInt32, {3}, -6, 6)}));
    cases.push_back(make_case("GatherElements",
                              {input(t, {4, 5}, -9, 9), input(DT::kInt64, {4, 3}, -5, 5)},
                              attrs({{"axis", int64_t{1}}})));
    cases.push_back(make_case("GatherElements",
                              {input(t, {4, 5, 3}, -9, 9), input(DT::kInt32, {2, 5, 3}, 0, 4)},
                              attrs({{"axis", int64_t{0}}})));
    for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
      cases.push_back(make_case(
          "Pad", {input(t, {3, 4, 5}, -9, 9), constant(DT::kInt64, {6}, {0, 2, 1, 1, 3, 2})},
          attrs({{"mode", std::string(mode)}})));
    }
    cases.push_back(
        make_case("Pad", {input(t, {3, 4, 5}, -9, 9), constant(DT::kInt64, {4}, {1, 2, 2, 1}),
                          constant(t, {}, {5}), constant(DT::kInt64, {2}, {0, 2})}));
    // The innermost axis alone (a channels-last input's channels widened to a vector), with and
    // without a fill value, and padded on both sides.
    cases.push_back(make_case("Pad", {input(t, {2, 5, 7, 3}, -9, 9),
                                      constant(DT::kInt64, {8}, {0, 0, 0, 0, 0, 0, 0, 5})}));
    cases.push_back(make_case("Pad", {input(t, {2, 5, 7, 3}, -9, 9),
                                      constant(DT::kInt64, {8}, {0, 0, 0, 0, 0, 0, 0, 1})}));
    cases.push_back(make_case(
        "Pad",
        {input(t, {4, 3}, -9, 9), constant(DT::kInt64, {4}, {0, 2, 0, 1}), constant(t, {}, {7})}));
  }
  return cases;
});

TEST(DataMovementGpu, GatherAndPad) {
  run_table(kGatherAndPadCases);
}

const GpuCaseTable kTriluAndCumSumCases("DataMovementGpu.TriluAndCumSum", [] {
  std::vector<GpuCase> cases;
  for (DT t : kTypes) {
    cases.push_back(make_case("Trilu", {input(t, {2, 5, 7}, -9, 9)}));
    cases.push_back(make_case("Trilu", {input(t, {2, 5, 7}, -9, 9), constant(DT::kInt64, {}, {-1})},
                              attrs({{"upper", int64_t{0}}})));
    cases.push_back(make_case("Trilu", {input(t, {6, 4}, -9, 9), input(DT::kInt64, {}, 1, 3)}));
  }
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kInt64, DT::kInt32}) {
    cases.push_back(make_case("CumSum", {input(t, {3, 50}, -9, 9), constant(DT::kInt64, {}, {1})}));
    cases.push_back(make_case("CumSum",
                              {input(t, {4, 6, 5}, -9, 9), constant(DT::kInt32, {}, {-2})},
                              attrs({{"exclusive", int64_t{1}}, {"reverse", int64_t{1}}})));
  }
  return cases;
});

TEST(DataMovementGpu, TriluAndCumSum) {
  run_table(kTriluAndCumSumCases);
}

// Rearrange (kiln's one-copy reformat): an image to FP16 NHWC, the space-to-depth stem layout
// with channel padding (a large batch, so the index split runs over many rows), and BF16 <-> FP32.
const GpuCaseTable kRearrangeCases("DataMovementGpu.Rearrange", [] {
  auto spec = [](std::vector<int64_t> sizes, std::vector<int64_t> strides,
                 std::vector<int64_t> shape, int64_t pad, const char* to) {
    return attrs({{"sizes", ints(std::move(sizes))},
                  {"strides", ints(std::move(strides))},
                  {"shape", ints(std::move(shape))},
                  {"pad", pad},
                  {"to", std::string(to)}});
  };
  std::vector<GpuCase> cases;
  cases.push_back(make_case("Rearrange", {input(DT::kFloat32, {2, 3, 5, 7}, -9, 9)},
                            spec({2, 35, 3}, {105, 1, 35}, {2, 5, 7, 3}, 0, "float16")));
  // [N, 3, 16, 12] -> [N, 8, 6, 2(h), 2(w), 3] -> rows of 12 channels padded to 16.
  cases.push_back(
      make_case("Rearrange", {input(DT::kFloat32, {40, 3, 16, 12}, -9, 9)},
                spec({40, 8, 6, 2, 2, 3}, {576, 24, 2, 12, 1, 192}, {40, 8, 6, 16}, 4, "float16")));
  cases.push_back(make_case("Rearrange", {input(DT::kBFloat16, {4, 6}, -9, 9)},
                            spec({6, 4}, {1, 6}, {6, 4}, 0, "float32")));
  cases.push_back(make_case("Rearrange", {input(DT::kFloat32, {4, 6}, -9, 9)},
                            spec({6, 4}, {1, 6}, {6, 5}, 1, "bfloat16")));
  return cases;
});

TEST(DataMovementGpu, Rearrange) {
  run_table(kRearrangeCases);
}

}  // namespace
}  // namespace kiln::test
