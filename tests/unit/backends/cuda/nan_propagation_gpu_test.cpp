// NaN, +Inf and -Inf through the CUDA kernels' paths for large shapes (block-per-row and cached
// softmax, block and thread reductions, long arg reductions and TopK rows, pools, norms, resize,
// scatter), against the CPU reference, which nan_propagation_test.cpp checks against ONNX Runtime
// on small shapes. The first nine rows of each input hold a special value at their first, middle
// or last position; the rest are numbers.
#include <gtest/gtest.h>

#include <limits>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kFloats[] = {DT::kFloat32, DT::kFloat16};

// `in` with NaN, +Inf and -Inf at the first, middle and last of the `len` values of its first nine
// rows (rows are `len` consecutive elements).
GpuInput with_specials(GpuInput in, int64_t len) {
  const double kSpecial[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()};
  const int64_t rows = shape_numel(in.shape) / len;
  for (int64_t r = 0; r < rows && r < 9; ++r) {
    const int64_t pos[] = {0, len / 2, len - 1};
    in.specials.emplace_back(r * len + pos[r % 3], kSpecial[r / 3]);
  }
  return in;
}

GpuInput special_input(DT t, Shape s, int64_t len, double low = -4, double high = 4) {
  return with_specials(input(t, std::move(s), low, high), len);
}

GpuCase named(GpuCase c, const std::string& what) {
  c.name += " " + what;
  return c;
}

const GpuCaseTable kSoftmaxAndNormsMatchCpuCases("NanPropagationGpu.SoftmaxAndNormsMatchCpu", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
      cases.push_back(named(make_case(op, {special_input(t, {12, 5000}, 5000)}), "cached rows"));
      cases.push_back(named(make_case(op, {special_input(t, {10, 10000}, 10000)}), "long rows"));
      cases.push_back(
          named(make_case(op, {special_input(t, {12, 700, 3}, 3)}, attrs({{"axis", int64_t{1}}})),
                "strided"));
    }
    cases.push_back(make_case("LayerNormalization", {special_input(t, {12, 768}, 768),
                                                     input(t, {768}), input(t, {768})}));
    cases.push_back(
        make_case("RMSNormalization", {special_input(t, {12, 64}, 64), input(t, {64})}));
    cases.push_back(make_case("InstanceNormalization",
                              {special_input(t, {4, 3, 300}, 300), input(t, {3}), input(t, {3})}));
    cases.push_back(make_case("GroupNormalization",
                              {special_input(t, {3, 6, 100}, 100), input(t, {6}), input(t, {6})},
                              attrs({{"num_groups", int64_t{3}}})));
  }
  return cases;
});

TEST(NanPropagationGpu, SoftmaxAndNormsMatchCpu) {
  run_table(kSoftmaxAndNormsMatchCpuCases);
}

const GpuCaseTable kReductionsMatchCpuCases("NanPropagationGpu.ReductionsMatchCpu", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    for (const char* op : {"ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean", "ReduceL2",
                           "ReduceLogSumExp", "ReduceSumSquare"}) {
      cases.push_back(named(make_case(op, {special_input(t, {12, 3000}, 3000, -1, 1),
                                           constant(DT::kInt64, {1}, {-1})}),
                            "block"));
      cases.push_back(named(
          make_case(op, {special_input(t, {3000, 12}, 12, -1, 1), constant(DT::kInt64, {1}, {0})}),
          "thread"));
    }
    for (const char* op : {"ArgMax", "ArgMin"}) {
      for (int64_t last : {0, 1}) {
        cases.push_back(make_case(op, {special_input(t, {12, 3000}, 3000)},
                                  attrs({{"axis", int64_t{1}}, {"select_last_index", last}})));
        cases.push_back(make_case(op, {special_input(t, {300, 12}, 12)},
                                  attrs({{"axis", int64_t{0}}, {"select_last_index", last}})));
      }
    }
    for (int64_t largest : {0, 1}) {
      cases.push_back(
          make_case("TopK", {special_input(t, {12, 2000}, 2000), constant(DT::kInt64, {1}, {5})},
                    attrs({{"largest", largest}}), 2));
    }
    cases.push_back(
        make_case("CumSum", {special_input(t, {12, 500}, 500), constant(DT::kInt64, {}, {1})}));
  }
  return cases;
});

TEST(NanPropagationGpu, ReductionsMatchCpu) {
  run_table(kReductionsMatchCpuCases);
}

const GpuCaseTable kPoolsResizeScatterMatchCpuCases(
    "NanPropagationGpu.PoolsResizeScatterMatchCpu", [] {
      std::vector<GpuCase> cases;
      for (DT t : kFloats) {
        const ir::Attributes pool = attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
                                           {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
        cases.push_back(make_case("MaxPool", {special_input(t, {2, 6, 32, 32}, 32)}, pool));
        cases.push_back(make_case("MaxPool", {special_input(t, {2, 6, 32, 32}, 32)},
                                  attrs({{"kernel_shape", std::vector<int64_t>{2, 2}},
                                         {"strides", std::vector<int64_t>{2, 2}}}),
                                  2));
        ir::Attributes nhwc = pool;
        nhwc.set("channels_last", int64_t{1});
        cases.push_back(named(make_case("MaxPool", {special_input(t, {2, 16, 16, 32}, 32)}, nhwc),
                              "channels-last"));
        cases.push_back(make_case("GlobalMaxPool", {special_input(t, {2, 6, 40, 40}, 1600)}));
        ir::Attributes global_nhwc = attrs({{"channels_last", int64_t{1}}});
        cases.push_back(
            named(make_case("GlobalMaxPool", {special_input(t, {2, 40, 40, 64}, 64)}, global_nhwc),
                  "channels-last"));
        cases.push_back(make_case("AveragePool", {special_input(t, {2, 6, 32, 32}, 32)}, pool));
        for (const char* mode : {"linear", "cubic", "nearest"}) {
          cases.push_back(
              make_case("Resize",
                        {special_input(t, {1, 2, 33, 33}, 33), constant(DT::kFloat32, {0}, {}),
                         constant(DT::kFloat32, {4}, {1, 1, 2, 2})},
                        attrs({{"mode", std::string(mode)}})));
        }
        cases.push_back(make_case("Clip", {special_input(t, {12, 4096}, 4096)}));
        cases.push_back(make_case("Max", {special_input(t, {12, 4096}, 4096),
                                          with_specials(input(t, {12, 4096}, -4, 4), 4095)}));
      }
      std::vector<double> indices;
      for (int64_t i = 0; i < 12 * 64; ++i) indices.push_back(static_cast<double>((i * 7) % 64));
      for (const char* reduction : {"max", "min"}) {
        cases.push_back(make_case(
            "ScatterElements",
            {special_input(DT::kFloat32, {12, 64}, 64), constant(DT::kInt64, {12, 64}, indices),
             with_specials(input(DT::kFloat32, {12, 64}, -4, 4), 63)},
            attrs({{"axis", int64_t{1}}, {"reduction", std::string(reduction)}})));
      }
      return cases;
    });

TEST(NanPropagationGpu, PoolsResizeScatterMatchCpu) {
  run_table(kPoolsResizeScatterMatchCpuCases);
}

}  // namespace
}  // namespace kiln::test
