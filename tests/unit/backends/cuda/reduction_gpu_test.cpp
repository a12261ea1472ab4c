// CUDA reduction-family kernels against the CPU reference: Softmax/LogSoftmax, the
// normalizations, Reduce*, ArgMax/ArgMin and pooling, over several shapes and float dtypes.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kFloats[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16};

const GpuCaseTable kSoftmaxCases("ReductionGpu.Softmax", [] {
  std::vector<GpuCase> cases;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (DT t : kFloats) {
      cases.push_back(make_case(op, {input(t, {4, 7}, -5, 5)}));
      cases.push_back(make_case(op, {input(t, {2, 12, 128, 128}, -8, 8)}));
      cases.push_back(make_case(op, {input(t, {3, 5000}, -8, 8)}));
      cases.push_back(make_case(op, {input(t, {3, 6, 5}, -5, 5)}, attrs({{"axis", int64_t{1}}})));
      cases.push_back(make_case(op, {input(t, {3, 6, 5}, -5, 5)}, attrs({{"axis", int64_t{0}}})));
      cases.push_back(make_case(op, {input(t, {3, 6, 5}, -5, 5)},
                                attrs({{"axis", int64_t{1}}, {"coerce_2d", int64_t{1}}})));
      cases.push_back(make_case(op, {input(t, {0, 6})}));
    }
  }
  return cases;
});

TEST(ReductionGpu, Softmax) {
  run_table(kSoftmaxCases);
}

const GpuCaseTable kNormalizationCases("ReductionGpu.Normalization", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {2, 128, 768}, -3, 3), input(t, {768}), input(t, {768})},
                              attrs({{"axis", int64_t{-1}}})));
    cases.push_back(make_case("LayerNormalization",
                              {input(t, {3, 4, 5}, -3, 3), input(t, {4, 5}), input(t, {4, 5})},
                              attrs({{"axis", int64_t{1}}}), 3));
    cases.push_back(make_case("LayerNormalization", {input(t, {6, 33}), input(t, {33})}));
    cases.push_back(make_case("RMSNormalization", {input(t, {4, 17, 64}, -2, 2), input(t, {64})}));
    cases.push_back(
        make_case("BatchNormalization", {input(t, {2, 3, 7, 9}), input(t, {3}), input(t, {3}),
                                         input(t, {3}), input(t, {3}, 0.5, 2)}));
    cases.push_back(
        make_case("InstanceNormalization", {input(t, {2, 3, 7, 9}), input(t, {3}), input(t, {3})}));
    cases.push_back(make_case("GroupNormalization",
                              {input(t, {2, 6, 5, 5}), input(t, {6}), input(t, {6})},
                              attrs({{"num_groups", int64_t{3}}})));
  }
  return cases;
});

TEST(ReductionGpu, Normalization) {
  run_table(kNormalizationCases);
}

const GpuCaseTable kReduceCases("ReductionGpu.Reduce", [] {
  std::vector<GpuCase> cases;
  const char* ops[] = {"ReduceMean", "ReduceSum", "ReduceMax",       "ReduceMin",      "ReduceProd",
                       "ReduceL1",   "ReduceL2",  "ReduceLogSumExp", "ReduceSumSquare"};
  for (const char* op : ops) {
    for (DT t : {DT::kFloat32, DT::kFloat16}) {
      double low = std::string(op) == "ReduceProd" ? 0.9 : -1,
             high = std::string(op) == "ReduceProd" ? 1.1 : 1;
      cases.push_back(
          make_case(op, {input(t, {4, 5, 6}, low, high), constant(DT::kInt64, {1}, {1})}));
      cases.push_back(make_case(op,
                                {input(t, {4, 5, 6}, low, high), constant(DT::kInt64, {2}, {0, 2})},
                                attrs({{"keepdims", int64_t{0}}})));
      cases.push_back(
          make_case(op, {input(t, {2, 3000}, low, high), constant(DT::kInt64, {1}, {-1})}));
      cases.push_back(
          make_case(op, {input(t, {3000, 3}, low, high), constant(DT::kInt64, {1}, {0})}));
      cases.push_back(make_case(op, {input(t, {7, 9}, low, high)}));
    }
  }
  // A log of a sum: positive elements.
  for (DT t : {DT::kFloat32, DT::kFloat16}) {
    cases.push_back(
        make_case("ReduceLogSum", {input(t, {4, 5, 6}, 0.1, 2), constant(DT::kInt64, {1}, {1})}));
  }
  cases.push_back(make_case("ReduceSum",
                            {input(DT::kInt64, {4, 5, 6}, -9, 9), constant(DT::kInt64, {1}, {1})}));
  cases.push_back(make_case("ReduceMax",
                            {input(DT::kInt32, {4, 5, 6}, -9, 9), constant(DT::kInt64, {1}, {2})}));
  for (const char* op : {"ArgMax", "ArgMin"}) {
    for (DT t : {DT::kFloat32, DT::kFloat16, DT::kInt32}) {
      cases.push_back(make_case(op, {input(t, {4, 5, 6}, -9, 9)}, attrs({{"axis", int64_t{1}}})));
      cases.push_back(make_case(op, {input(t, {4, 5, 6}, -3, 3)},
                                attrs({{"axis", int64_t{-1}},
                                       {"keepdims", int64_t{0}},
                                       {"select_last_index", int64_t{1}}})));
    }
  }
  return cases;
});

TEST(ReductionGpu, Reduce) {
  run_table(kReduceCases);
}

const GpuCaseTable kPoolingCases("ReductionGpu.Pooling", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    auto k = [](std::vector<int64_t> v) { return ir::AttrValue(std::move(v)); };
    cases.push_back(make_case(
        "MaxPool", {input(t, {2, 3, 9, 9})},
        attrs({{"kernel_shape", k({3, 3})}, {"strides", k({2, 2})}, {"pads", k({1, 1, 1, 1})}})));
    cases.push_back(make_case("MaxPool", {input(t, {1, 2, 10, 11})},
                              attrs({{"kernel_shape", k({3, 2})},
                                     {"strides", k({2, 2})},
                                     {"ceil_mode", int64_t{1}},
                                     {"dilations", k({2, 1})}}),
                              2));
    cases.push_back(make_case(
        "AveragePool", {input(t, {2, 3, 9, 9})},
        attrs({{"kernel_shape", k({3, 3})}, {"strides", k({2, 2})}, {"pads", k({1, 1, 1, 1})}})));
    cases.push_back(make_case("AveragePool", {input(t, {2, 3, 9, 9})},
                              attrs({{"kernel_shape", k({3, 3})},
                                     {"strides", k({2, 2})},
                                     {"pads", k({1, 1, 1, 1})},
                                     {"count_include_pad", int64_t{1}},
                                     {"ceil_mode", int64_t{1}}})));
    cases.push_back(
        make_case("AveragePool", {input(t, {2, 3, 20})},
                  attrs({{"kernel_shape", k({4})}, {"auto_pad", std::string("SAME_UPPER")}})));
    cases.push_back(
        make_case("MaxPool", {input(t, {1, 2, 5, 6, 7})}, attrs({{"kernel_shape", k({2, 3, 2})}})));
    cases.push_back(make_case("GlobalAveragePool", {input(t, {4, 64, 7, 7})}));
    cases.push_back(make_case("GlobalMaxPool", {input(t, {4, 16, 5, 5})}));
  }
  return cases;
});

TEST(ReductionGpu, Pooling) {
  run_table(kPoolingCases);
}

}  // namespace
}  // namespace kiln::test
