// Inference of the elementwise ops on symbolic shapes: broadcasting with unknown and named dims,
// output types, and the build-time refusals (wrong types, bad attributes, unbroadcastable shapes).
#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::ir {
namespace {

struct Built {
  Graph g;
  Node* node = nullptr;
};

// One node over graph inputs of the given types; runs graph-wide inference.
std::unique_ptr<Built> infer(const std::string& op,
                             const std::vector<std::pair<DataType, SymShape>>& inputs,
                             Attributes attrs = {}) {
  auto b = std::make_unique<Built>();
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Value* v = b->g.add_value("in" + std::to_string(i), inputs[i].first, inputs[i].second);
    b->g.inputs().push_back(v);
    ins.push_back(v);
  }
  Value* out = b->g.add_value("out");
  b->g.outputs().push_back(out);
  b->node = b->g.add_node(op, "n", ins, {out});
  for (const auto& [k, v] : attrs.all()) b->node->attrs.set(k, v);
  infer_graph(b->g);
  return b;
}

const Value& out(const Built& b) {
  return *b.node->outputs[0];
}

TEST(ElementwiseInference, BinaryBroadcastKeepsSymbols) {
  auto b = infer(
      "Add", {{DataType::kFloat32, {Dim::symbolic("batch"), 1, 4}}, {DataType::kFloat32, {3, 1}}});
  ASSERT_TRUE(out(*b).shape);
  EXPECT_EQ(*out(*b).shape, SymShape({Dim::symbolic("batch"), 3, 4}));
  EXPECT_EQ(out(*b).dtype, DataType::kFloat32);
}

TEST(ElementwiseInference, ComparisonAndPredicateGiveBool) {
  auto b = infer("Less", {{DataType::kInt64, {2}}, {DataType::kInt64, {}}});
  EXPECT_EQ(out(*b).dtype, DataType::kBool);
  EXPECT_EQ(*out(*b).shape, SymShape({2}));
  auto n = infer("IsNaN", {{DataType::kFloat16, {5}}});
  EXPECT_EQ(out(*n).dtype, DataType::kBool);
}

TEST(ElementwiseInference, VariadicBroadcastsAllInputs) {
  auto b = infer(
      "Max", {{DataType::kInt32, {2, 1}}, {DataType::kInt32, {3}}, {DataType::kInt32, {1, 1, 1}}});
  EXPECT_EQ(*out(*b).shape, SymShape({1, 2, 3}));
}

TEST(ElementwiseInference, PowTakesTheBaseType) {
  auto b = infer("Pow", {{DataType::kInt32, {3}}, {DataType::kFloat32, {3}}});
  EXPECT_EQ(out(*b).dtype, DataType::kInt32);
}

TEST(ElementwiseInference, WhereTakesXType) {
  auto b = infer("Where",
                 {{DataType::kBool, {2, 1}}, {DataType::kFloat16, {3}}, {DataType::kFloat16, {}}});
  EXPECT_EQ(out(*b).dtype, DataType::kFloat16);
  EXPECT_EQ(*out(*b).shape, SymShape({2, 3}));
}

TEST(ElementwiseInference, CastUsesTheTargetName) {
  Attributes a;
  a.set("to", std::string("bfloat16"));
  auto b = infer("Cast", {{DataType::kFloat32, {Dim::symbolic("n")}}}, a);
  EXPECT_EQ(out(*b).dtype, DataType::kBFloat16);
  EXPECT_EQ(*out(*b).shape, SymShape({Dim::symbolic("n")}));
  auto c = infer("CastLike", {{DataType::kFloat32, {2}}, {DataType::kUInt8, {}}});
  EXPECT_EQ(out(*c).dtype, DataType::kUInt8);
}

void expect_invalid(const std::string& op, const std::vector<std::pair<DataType, SymShape>>& ins,
                    const std::string& fragment, Attributes attrs = {}) {
  try {
    infer(op, ins, attrs);
    FAIL() << op << ": expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'n'"), std::string::npos) << e.what();
  }
}

TEST(ElementwiseInference, RefusesBadModels) {
  expect_invalid("Exp", {{DataType::kInt32, {2}}}, "int32");
  expect_invalid("And", {{DataType::kFloat32, {2}}, {DataType::kFloat32, {2}}}, "float32");
  expect_invalid("Add", {{DataType::kFloat32, {2}}, {DataType::kFloat16, {2}}}, "must match");
  expect_invalid("Mul", {{DataType::kFloat32, {2}}, {DataType::kFloat32, {3}}}, "broadcast");
  expect_invalid("Where",
                 {{DataType::kInt32, {2}}, {DataType::kFloat32, {2}}, {DataType::kFloat32, {2}}},
                 "bool");
  expect_invalid("Clip", {{DataType::kFloat32, {2}}, {DataType::kFloat32, {2}}}, "one value");
  expect_invalid("PRelu", {{DataType::kFloat32, {2}}, {DataType::kFloat32, {3, 2}}}, "slope");
  expect_invalid("Cast", {{DataType::kFloat32, {2}}}, "'to'");
  expect_invalid("BitShift", {{DataType::kUInt8, {2}}, {DataType::kUInt8, {2}}}, "direction");
  Attributes up;
  up.set("direction", std::string("UP"));
  expect_invalid("BitShift", {{DataType::kUInt8, {2}}, {DataType::kUInt8, {2}}}, "UP", up);
  Attributes fmod;
  fmod.set("fmod", int64_t{2});
  expect_invalid("Mod", {{DataType::kInt32, {2}}, {DataType::kInt32, {2}}}, "fmod", fmod);
}

}  // namespace
}  // namespace kiln::ir
