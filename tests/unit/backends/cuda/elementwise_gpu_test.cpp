// CUDA elementwise kernels against the CPU reference: unary math and activations, broadcasting
// binary ops, Where, Cast, variadic ops, over several shapes (odd sizes, broadcasting, empty) and
// dtypes.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;
const DT kFloats[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16};
// True when `from` broadcasts one way (numpy rules) to `to` (PRelu's slope to X).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != 1 && f != t) return false;
  }
  return true;
}

const Shape kShapes[] = {{7}, {2, 3, 5}, {4, 1024}, {3, 0}, {1, 33, 65}};

const GpuCaseTable kUnaryMathAndActivationsCases("ElementwiseGpu.UnaryMathAndActivations", [] {
  struct Op {
    const char* name;
    double low, high;
    ir::Attributes attrs;
  };
  std::vector<Op> ops = {
      {"Relu", -2, 2, {}},
      {"Sigmoid", -8, 8, {}},
      {"Tanh", -4, 4, {}},
      {"Exp", -4, 4, {}},
      {"Log", 0.1, 10, {}},
      {"Sqrt", 0, 9, {}},
      {"Reciprocal", 0.5, 4, {}},
      {"Neg", -2, 2, {}},
      {"Abs", -2, 2, {}},
      {"Erf", -3, 3, {}},
      {"Softplus", -20, 20, {}},
      {"Mish", -6, 6, {}},
      {"HardSwish", -5, 5, {}},
      {"Floor", -5, 5, {}},
      {"Ceil", -5, 5, {}},
      {"Sin", -3, 3, {}},
      {"Cos", -3, 3, {}},
      {"Tan", -1, 1, {}},
      {"Asin", -0.9, 0.9, {}},
      {"Acos", -0.9, 0.9, {}},
      {"Atan", -3, 3, {}},
      {"Sinh", -3, 3, {}},
      {"Cosh", -3, 3, {}},
      {"Asinh", -3, 3, {}},
      {"Acosh", 1.1, 5, {}},
      {"Atanh", -0.9, 0.9, {}},
      {"Softsign", -3, 3, {}},
      {"Sign", -2, 2, {}},
      {"Round", -5, 5, {}},
      {"Elu", -3, 3, attrs({{"alpha", 0.7f}})},
      {"Selu", -3, 3, {}},
      {"Celu", -3, 3, attrs({{"alpha", 1.5f}})},
      {"LeakyRelu", -2, 2, attrs({{"alpha", 0.1f}})},
      {"HardSigmoid", -5, 5, attrs({{"alpha", 0.25f}, {"beta", 0.4f}})},
      {"ThresholdedRelu", -2, 2, attrs({{"alpha", 0.5f}})},
      {"Gelu", -4, 4, {}},
      {"Gelu", -4, 4, attrs({{"approximate", std::string("tanh")}})},
  };
  std::vector<GpuCase> cases;
  for (const Op& op : ops) {
    for (DT t : kFloats) {
      for (const Shape& s : kShapes)
        cases.push_back(make_case(op.name, {input(t, s, op.low, op.high)}, op.attrs));
    }
    cases.push_back(make_case(op.name, {input(DT::kFloat64, {5, 7}, op.low, op.high)}, op.attrs));
  }
  for (DT t : {DT::kInt32, DT::kInt64, DT::kInt8}) {
    for (const char* op : {"Relu", "Abs", "Neg", "Sign"}) {
      cases.push_back(make_case(op, {input(t, {3, 17}, -50, 50)}));
    }
  }
  cases.push_back(make_case("Not", {input(DT::kBool, {9, 5})}));
  cases.push_back(make_case("BitwiseNot", {input(DT::kInt32, {9, 5}, -100, 100)}));
  cases.push_back(make_case("IsNaN", {input(DT::kFloat32, {9, 5})}));
  cases.push_back(make_case("IsInf", {input(DT::kFloat16, {9, 5})}));
  return cases;
});

TEST(ElementwiseGpu, UnaryMathAndActivations) {
  run_table(kUnaryMathAndActivationsCases);
}

const GpuCaseTable kClipCases("ElementwiseGpu.Clip", [] {
  std::vector<GpuCase> cases;
  for (DT t : kFloats) {
    cases.push_back(make_case(
        "Clip", {input(t, {4, 33}, -3, 3), constant(t, {}, {-1}), constant(t, {}, {0.5})}));
    cases.push_back(make_case("Clip", {input(t, {4, 33}, -3, 3), input(t, {}), input(t, {})}));
  }
  cases.push_back(
      make_case("Clip", {input(DT::kInt32, {100}, -50, 50), constant(DT::kInt32, {}, {-7}),
                         constant(DT::kInt32, {}, {9})}));
  return cases;
});

TEST(ElementwiseGpu, Clip) {
  run_table(kClipCases);
}

const GpuCaseTable kBinaryBroadcastingCases("ElementwiseGpu.BinaryBroadcasting", [] {
  const std::pair<Shape, Shape> shapes[] = {
      {{2, 3, 4}, {2, 3, 4}},
      {{8, 1024}, {1024}},
      {{6, 5}, {}},
      {{}, {6, 5}},
      {{2, 1, 4}, {3, 1}},
      {{4, 3, 8, 8}, {3, 1, 1}},
      {{1, 7, 1, 9}, {5, 1, 3, 1}},
      {{0, 3}, {3}},
      {{3, 5, 7, 1, 2, 1, 3}, {5, 1, 4, 2, 6, 3}},
      // Channels-last squeeze-excitation scales, walked in 16-byte packs (either operand
      // repeating along the innermost dim), and rows that break the pack alignment.
      {{2, 5, 3, 16}, {2, 1, 1, 16}},
      {{2, 1, 1, 24}, {2, 5, 3, 24}},
      {{3, 12}, {3, 1}},
      {{3, 4, 12}, {3, 1, 12}},
  };
  std::vector<GpuCase> cases;
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater",
                         "LessOrEqual", "GreaterOrEqual", "PRelu"}) {
    for (DT t : kFloats) {
      for (const auto& [a, b] : shapes) {
        if (std::string(op) == "PRelu" && !broadcasts_to(b, a)) continue;
        double low = std::string(op) == "Pow" ? 0.1 : -2;
        cases.push_back(make_case(op, {input(t, a, low, 2), input(t, b, low, 2)}));
      }
    }
  }
  for (DT t : {DT::kInt32, DT::kInt64, DT::kUInt8, DT::kInt16}) {
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Mod", "BitwiseAnd", "BitwiseOr",
                           "BitwiseXor", "Equal", "Less"}) {
      cases.push_back(make_case(op, {input(t, {4, 9}, -100, 100), input(t, {9}, 1, 20)}));
    }
  }
  cases.push_back(make_case("Mod",
                            {input(DT::kFloat32, {4, 9}, -10, 10), input(DT::kFloat32, {9}, 1, 3)},
                            attrs({{"fmod", int64_t{1}}})));
  cases.push_back(
      make_case("Mod", {input(DT::kFloat32, {4, 9}, -10, 10), input(DT::kFloat32, {9}, -3, 3)}));
  cases.push_back(
      make_case("Pow", {input(DT::kFloat32, {4, 9}, 0.1, 3), input(DT::kInt64, {9}, 0, 4)}));
  cases.push_back(
      make_case("Pow", {input(DT::kInt64, {4, 9}, -5, 5), input(DT::kInt64, {9}, 0, 6)}));
  cases.push_back(make_case("BitShift",
                            {input(DT::kUInt8, {4, 9}, 0, 255), input(DT::kUInt8, {9}, 0, 8)},
                            attrs({{"direction", std::string("LEFT")}})));
  for (const char* op : {"And", "Or", "Xor"}) {
    cases.push_back(make_case(op, {input(DT::kBool, {3, 1, 5}), input(DT::kBool, {4, 1})}));
  }
  return cases;
});

TEST(ElementwiseGpu, BinaryBroadcasting) {
  run_table(kBinaryBroadcastingCases);
}

const GpuCaseTable kWhereAndVariadicCases("ElementwiseGpu.WhereAndVariadic", [] {
  std::vector<GpuCase> cases;
  for (DT t : {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kInt64, DT::kUInt8}) {
    cases.push_back(make_case("Where", {input(DT::kBool, {2, 1, 5}), input(t, {3, 5}, -9, 9),
                                        input(t, {2, 3, 1}, -9, 9)}));
    cases.push_back(make_case(
        "Where", {input(DT::kBool, {64, 64}), input(t, {64, 64}, -9, 9), input(t, {}, -9, 9)}));
  }
  for (const char* op : {"Sum", "Mean", "Max", "Min"}) {
    for (DT t : kFloats) {
      cases.push_back(make_case(op, {input(t, {3, 4, 5})}));
      cases.push_back(make_case(op, {input(t, {3, 4, 5}), input(t, {4, 1}), input(t, {5})}));
      cases.push_back(make_case(op, {input(t, {2, 7}), input(t, {2, 7}), input(t, {1}),
                                     input(t, {2, 1}), input(t, {7})}));
    }
  }
  cases.push_back(
      make_case("Max", {input(DT::kInt32, {3, 4}, -9, 9), input(DT::kInt32, {4}, -9, 9)}));
  return cases;
});

TEST(ElementwiseGpu, WhereAndVariadic) {
  run_table(kWhereAndVariadicCases);
}

const GpuCaseTable kCastCases("ElementwiseGpu.Cast", [] {
  const DT all[] = {DT::kFloat32, DT::kFloat16, DT::kBFloat16, DT::kFloat64, DT::kInt8,
                    DT::kUInt8,   DT::kInt32,   DT::kInt64,    DT::kBool,    DT::kFloat8E4M3};
  std::vector<GpuCase> cases;
  for (DT from : all) {
    for (DT to : all) {
      GpuCase c =
          make_case("Cast", {input(from, {5, 37}, -300, 300)}, attrs({{"to", dtype_name(to)}}));
      c.name += " to " + dtype_name(to);
      // Exact conversions both ways: the reference rounds once, as the kernel must.
      c.rtol = 0;
      c.atol = 0;
      cases.push_back(c);
    }
  }
  // CastLike takes its target type from its second input.
  for (DT to : {DT::kFloat16, DT::kInt32, DT::kBool}) {
    GpuCase c = make_case("CastLike", {input(DT::kFloat32, {3, 11}, -300, 300), input(to, {1})});
    c.rtol = 0;
    c.atol = 0;
    cases.push_back(c);
  }
  return cases;
});

TEST(ElementwiseGpu, Cast) {
  run_table(kCastCases);
}

}  // namespace
}  // namespace kiln::test
