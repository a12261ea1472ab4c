// Constant folding of nodes whose output size comes from data: a shape that becomes known only
// while folding (a Concat of constants feeding Expand or ConstantOfShape) and is huge must end in
// a clean error naming the node, never in an allocation whose size wrapped.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/hostile_input_util.hpp"

namespace kiln::passes {
namespace {

using ir::Graph;
using ir::Value;

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

// A graph whose `op` node ("sized") reads a shape that is the Concat of two constants, so the
// shape's values, and the node's output size, are known only once the Concat has been folded.
// Expand also reads a one-element float constant.
std::unique_ptr<Graph> sized_by_folded_concat(const std::string& op, int64_t a, int64_t b) {
  auto g = std::make_unique<Graph>();
  Value* shape = g->add_value("shape");
  g->add_node("Concat", "concat",
              {g->add_constant("a", ints({a})), g->add_constant("b", ints({b}))}, {shape})
      ->attrs.set("axis", int64_t{0});
  std::vector<Value*> ins = {shape};
  if (op == "Expand") {
    ins.insert(ins.begin(), g->add_constant("one", Tensor::from_vector(DataType::kFloat32, {1},
                                                                       std::vector<float>{1})));
  }
  Value* y = g->add_value("y");
  g->add_node(op, "sized", ins, {y});
  g->outputs().push_back(y);
  ir::infer_graph(*g);
  return g;
}

TEST(FoldConstants, HugeConstantOfShapeFailsNamingTheNode) {
  // 2^31 x 2^31 floats: 2^64 bytes, which wrapped to 0 and let the kernel write 2^62 floats.
  auto g = sized_by_folded_concat("ConstantOfShape", int64_t{1} << 31, int64_t{1} << 31);
  test::expect_error([&] { fold_constants(*g); }, ErrorCode::kInvalidModel,
                     {"node 'sized' (ConstantOfShape)", "output 0 ('y')"});
}

TEST(FoldConstants, HugeExpandFailsNamingTheNode) {
  auto g = sized_by_folded_concat("Expand", int64_t{1} << 32, int64_t{1} << 32);
  test::expect_error([&] { fold_constants(*g); }, ErrorCode::kInvalidModel,
                     {"node 'sized' (Expand)", "64 bits"});
}

TEST(FoldConstants, OutputsPastTheLimitAreLeftUnfoldedAndReported) {
  // Within 64 bits but past a (lowered) limit: refused the same way, and nothing is allocated.
  test::ScopedTensorByteLimit limit(1 << 20);
  auto g = sized_by_folded_concat("ConstantOfShape", 1024, 1024);  // 4 MiB of float32
  test::expect_error([&] { fold_constants(*g); }, ErrorCode::kInvalidModel,
                     {"node 'sized' (ConstantOfShape)", "size limit"});
  // The control: a small shape folds into a constant.
  auto ok = sized_by_folded_concat("ConstantOfShape", 2, 3);
  EXPECT_TRUE(fold_constants(*ok));
  ASSERT_TRUE(ok->outputs()[0]->is_constant());
  EXPECT_EQ(ok->outputs()[0]->constant->numel(), 6);
}

}  // namespace
}  // namespace kiln::passes
