// The Pointwise kernel on hand-written programs: broadcasting operands, several outputs, the
// threaded path, reduced precision rounding, and programs that are rejected.
#include <gtest/gtest.h>

#include <cmath>

#include "core/float_types.hpp"
#include "ir/pointwise_program.hpp"
#include "unit/op_test_util.hpp"

namespace kiln {
namespace {

using ir::PointwiseOpcode;
using test::constant;
using test::make;
using test::run_op;
using test::runtime;

// out0 = (a + b) * 2, out1 = a + b.
ir::Attributes sum_times_two() {
  ir::PointwiseProgram p;
  p.num_inputs = 2;
  int64_t s = p.emit(PointwiseOpcode::kAdd, 0, 1);
  int64_t y = p.emit(PointwiseOpcode::kMul, s, p.emit_constant(2.0f));
  p.outputs = {y, s};
  ir::Attributes a;
  p.store(a);
  return a;
}

TEST(Pointwise, BroadcastsOperandsAndWritesEveryOutput) {
  Tensor a = make<float>(DataType::kFloat32, {2, 3, 1}, {0, 1, 2, 3, 4, 5});
  Tensor b = make<float>(DataType::kFloat32, {4}, {10, 20, 30, 40});
  auto outs = run_op("Pointwise", sum_times_two(), {runtime(a), constant(b)}, 2);
  ASSERT_EQ(outs[0].shape(), (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      float sum = static_cast<float>(i) + 10.0f * static_cast<float>(j + 1);
      EXPECT_EQ(outs[1].data<float>()[i * 4 + j], sum);
      EXPECT_EQ(outs[0].data<float>()[i * 4 + j], sum * 2);
    }
  }
}

TEST(Pointwise, LargeBroadcastRunsAcrossThreadsAndBlocks) {
  // Rows of 1000 (several blocks each, the last partial), a column operand broadcast along them.
  const int64_t rows = 96, cols = 1000;
  std::vector<float> av(static_cast<size_t>(rows * cols)), bv(static_cast<size_t>(rows));
  for (size_t i = 0; i < av.size(); ++i) av[i] = static_cast<float>(i % 977) * 0.5f;
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<float>(i);
  Tensor a = make<float>(DataType::kFloat32, {rows, cols}, av);
  Tensor b = make<float>(DataType::kFloat32, {rows, 1}, bv);
  auto outs = run_op("Pointwise", sum_times_two(), {runtime(a), runtime(b)}, 2);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float want = (av[static_cast<size_t>(r * cols + c)] + bv[static_cast<size_t>(r)]) * 2;
      ASSERT_EQ(outs[0].data<float>()[r * cols + c], want) << r << "," << c;
    }
  }
}

TEST(Pointwise, Float16RoundsEachStepLikeTheUnfusedOps) {
  // (x * 3) * (1/3) in fp16: rounding after the first Mul makes the result differ from x for
  // some x; the fused kernel must show the same differences.
  ir::PointwiseProgram p;
  p.num_inputs = 1;
  int64_t t = p.emit(PointwiseOpcode::kMul, 0, p.emit_constant(3.0f));
  p.outputs = {p.emit(PointwiseOpcode::kMul, t, p.emit_constant(1.0f / 3.0f))};
  ir::Attributes attrs;
  p.store(attrs);
  std::vector<Half> xs;
  for (int i = 0; i < 200; ++i) xs.push_back(Half(0.37f + 0.013f * static_cast<float>(i)));
  Tensor x = make<Half>(DataType::kFloat16, {200}, xs);
  Tensor y = run_op("Pointwise", attrs, {runtime(x)})[0];
  for (int i = 0; i < 200; ++i) {
    float step = static_cast<float>(Half(static_cast<float>(xs[static_cast<size_t>(i)]) * 3.0f));
    float want = static_cast<float>(Half(step * (1.0f / 3.0f)));  // constants stay exact
    EXPECT_EQ(static_cast<float>(y.data<Half>()[i]), want) << i;
  }
}

TEST(Pointwise, RejectsMalformedPrograms) {
  Tensor x = make<float>(DataType::kFloat32, {2}, {1, 2});
  ir::Attributes forward;
  forward.set("code", std::vector<int64_t>{static_cast<int64_t>(PointwiseOpcode::kAdd), 0, 2, -1});
  forward.set("outputs", std::vector<int64_t>{1});
  EXPECT_THROW(run_op("Pointwise", forward, {runtime(x)}), Error);
  ir::Attributes unknown;
  unknown.set("code", std::vector<int64_t>{999, 0, -1, -1});
  unknown.set("outputs", std::vector<int64_t>{1});
  try {
    run_op("Pointwise", unknown, {runtime(x)});
    FAIL() << "an unknown opcode was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown opcode 999"), std::string::npos) << e.what();
  }
  ir::Attributes missing_output;
  missing_output.set("code",
                     std::vector<int64_t>{static_cast<int64_t>(PointwiseOpcode::kNeg), 0, -1, -1});
  missing_output.set("outputs", std::vector<int64_t>{7});
  EXPECT_THROW(run_op("Pointwise", missing_output, {runtime(x)}), Error);
}

TEST(Pointwise, ProgramsPrintReadably) {
  ir::PointwiseProgram p;
  p.num_inputs = 1;
  p.outputs = {p.emit(PointwiseOpcode::kLeakyRelu, 0, p.emit_constant(0.5f))};
  EXPECT_EQ(p.to_string(), "r1 = Const 0.5\nr2 = LeakyRelu r0 r1\nout0 = r2\n");
}

}  // namespace
}  // namespace kiln
