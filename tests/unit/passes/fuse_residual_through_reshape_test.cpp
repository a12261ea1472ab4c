// fuse_residual_through_reshape: product -> Reshape -> Add(residual) becomes one product with the
// residual fused (read through a Reshape view) and the Reshape carrying the sum, with the same
// results; a product or Reshape that other layers also read is left alone.
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::passes {
namespace {

using ir::Value;
using test::ops;
using test::PassGraphBuilder;

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.05f * static_cast<float>(i % 11) - 0.2f;
  return v;
}

TEST(FuseResidualThroughReshape, TheResidualJoinsTheProduct) {
  for (const char* op : {"MatMul", "Gemm"}) {
    SCOPED_TRACE(op);
    PassGraphBuilder b;
    Value* x = b.op("Relu", {b.input("x", {6, 4})});
    Value* y = b.op(op, {x, b.constant({4, 4}, ramp(16))});
    Value* tokens = b.op("Reshape", {y, b.ints({2, 3, 4})});
    Value* residual = b.op("Sigmoid", {b.input("r", {2, 3, 4})});
    b.output(b.op("Add", {residual, tokens}));
    auto after = test::apply_and_compare(b.graph(), fuse_residual_through_reshape, 1e-6);
    EXPECT_EQ(ops(*after),
              (std::vector<std::string>{"Relu", "Sigmoid", "Reshape", "FusedMatMul", "Reshape"}));
  }
}

TEST(FuseResidualThroughReshape, LeavesValuesOtherLayersRead) {
  for (bool product_read_elsewhere : {true, false}) {
    SCOPED_TRACE(product_read_elsewhere);
    PassGraphBuilder b;
    Value* x = b.op("Relu", {b.input("x", {6, 4})});
    Value* y = b.op("MatMul", {x, b.constant({4, 4}, ramp(16))});
    Value* tokens = b.op("Reshape", {y, b.ints({2, 3, 4})});
    b.output(b.op("Add", {tokens, b.input("r", {2, 3, 4})}));
    b.output(b.op("Sigmoid", {product_read_elsewhere ? y : tokens}));
    ir::infer_graph(b.graph());
    EXPECT_FALSE(fuse_residual_through_reshape(b.graph()));
  }
}

}  // namespace
}  // namespace kiln::passes
