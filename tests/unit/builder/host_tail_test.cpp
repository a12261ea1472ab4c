// The head/tail split of graphs with data-dependent shapes (build/host_tail.hpp): which layers go
// where, the boundary tensors (once each, with their static shapes), the outputs of each part, and
// the graphs it leaves alone.
#include "builder/host_tail.hpp"

#include <gtest/gtest.h>

#include "ir/op_registry.hpp"
#include "unit/control_flow_test_util.hpp"

namespace kiln::builder {
namespace {

using ir::Graph;
using ir::Value;

std::vector<std::string> op_list(const Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes()) ops.push_back(n->op);
  return ops;
}

std::vector<std::string> name_list(const std::vector<Value*>& values) {
  std::vector<std::string> names;
  for (const Value* v : values) names.push_back(v->name);
  return names;
}

std::optional<HostTailSplit> split(const Graph& g) {
  return split_host_tail(g, evaluate_static_prefix(g, bind_input_shapes(g, {})));
}

// x -> Relu -> r (an output, and read by NonZero) -> NonZero -> Transpose -> boxes;
// x -> Sigmoid -> s (an output the tail never touches); r, s -> Add -> a, which nothing reads.
struct DetectionLike {
  Graph g;
  DetectionLike() {
    Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{4, ir::Dim::symbolic("n")});
    g.inputs() = {x};
    Value* r = g.add_value("r");
    g.add_node("Relu", "relu", {x}, {r});
    Value* nz = g.add_value("nz", DataType::kInt64);
    g.add_node("NonZero", "nonzero", {r}, {nz});
    Value* boxes = g.add_value("boxes", DataType::kInt64);
    Value* perm = g.add_value("boxes_t", DataType::kInt64);
    g.add_node("Transpose", "transpose", {nz}, {perm});
    Value* s = g.add_value("s");
    g.add_node("Sigmoid", "sigmoid", {x}, {s});
    Value* a = g.add_value("a");
    g.add_node("Add", "add", {r, s}, {a});
    Value* count = g.add_value("count", DataType::kInt64);
    g.add_node("Shape", "shape", {perm}, {count});
    Value* scaled = g.add_value("scaled", DataType::kInt64);
    g.add_node("Mul", "mul", {perm, perm}, {scaled});
    g.add_node("Identity", "keep", {scaled}, {boxes});
    (void)a;
    g.outputs() = {boxes, r, s, count};
    ir::infer_graph(g);
  }
};

TEST(HostTail, DataDependentLayersAndTheirReadersGoToTheTail) {
  DetectionLike m;
  std::optional<HostTailSplit> parts = split(m.g);
  ASSERT_TRUE(parts);
  EXPECT_NE(parts->why.find("nz"), std::string::npos) << parts->why;
  // The head: every static layer, even one listed after the first data-dependent one; the Add
  // feeds nothing that is kept, so it goes.
  EXPECT_EQ(op_list(*parts->head), (std::vector<std::string>{"Relu", "Sigmoid"}));
  // Outputs: the graph outputs the head makes, then the boundary (r, already listed, once).
  EXPECT_EQ(name_list(parts->head->outputs()), (std::vector<std::string>{"r", "s"}));
  EXPECT_EQ(name_list(parts->head->inputs()), (std::vector<std::string>{"x"}));
  EXPECT_EQ(op_list(*parts->tail),
            (std::vector<std::string>{"NonZero", "Transpose", "Shape", "Mul", "Identity"}));
  EXPECT_EQ(name_list(parts->tail->inputs()), (std::vector<std::string>{"r"}));
  // The boundary tensor takes the static shape the head gives it (the profile's n = 1).
  ASSERT_TRUE(parts->tail->inputs()[0]->shape);
  EXPECT_EQ(ir::to_concrete(*parts->tail->inputs()[0]->shape), (Shape{4, 1}));
  EXPECT_EQ(name_list(parts->tail->outputs()), (std::vector<std::string>{"boxes", "count"}));
  EXPECT_EQ(parts->tail->inputs()[0]->producer, nullptr);
}

TEST(HostTail, AGraphInputTheTailReadsIsATailInput) {
  Graph g;
  Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  Value* k = g.add_value("k", DataType::kFloat32, ir::SymShape{2, 3});
  g.inputs() = {x, k};
  Value* r = g.add_value("r");
  g.add_node("Relu", "relu", {x}, {r});
  Value* nz = g.add_value("nz", DataType::kInt64);
  g.add_node("NonZero", "nonzero", {r}, {nz});
  Value* m = g.add_value("m");
  g.add_node("Mul", "mul", {r, k}, {m});
  Value* both = g.add_value("both", DataType::kInt64);
  g.add_node("Shape", "shape_nz", {nz}, {both});
  g.outputs() = {both, m};
  ir::infer_graph(g);
  std::optional<HostTailSplit> parts = split(g);
  ASSERT_TRUE(parts);
  EXPECT_EQ(op_list(*parts->head), (std::vector<std::string>{"Relu", "Mul"}));
  EXPECT_EQ(name_list(parts->head->outputs()), (std::vector<std::string>{"m", "r"}));
  EXPECT_EQ(name_list(parts->tail->inputs()), (std::vector<std::string>{"r"}));
}

TEST(HostTail, StaticGraphsStayWholeAndDataDependentOnesGoToTheHostWhole) {
  Graph g;
  Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  g.inputs() = {x};
  Value* r = g.add_value("r");
  g.add_node("Relu", "relu", {x}, {r});
  g.outputs() = {r};
  ir::infer_graph(g);
  EXPECT_FALSE(split(g));  // every shape static

  Graph d;
  Value* y = d.add_value("y", DataType::kFloat32, ir::SymShape{2, 3});
  d.inputs() = {y};
  Value* nz = d.add_value("nz", DataType::kInt64);
  d.add_node("NonZero", "nonzero", {y}, {nz});
  Value* s = d.add_value("s", DataType::kInt64);
  d.add_node("Shape", "shape", {y}, {s});
  d.outputs() = {nz, s};
  ir::infer_graph(d);
  // The head would only read a shape: every layer goes to the host.
  std::optional<HostTailSplit> parts = split(d);
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->head->nodes().empty());
  EXPECT_TRUE(parts->head->outputs().empty());
  EXPECT_EQ(op_list(*parts->tail), (std::vector<std::string>{"NonZero", "Shape"}));
  EXPECT_EQ(name_list(parts->tail->inputs()), (std::vector<std::string>{"y"}));
  EXPECT_EQ(name_list(parts->tail->outputs()), (std::vector<std::string>{"nz", "s"}));
}

// An If whose outputs shape inference knows in full (both branches give float[3]) is not a reason
// to split: the CUDA backend runs it on the host with that static shape.
TEST(HostTail, AnIfWithAStaticOutputShapeStaysInTheHead) {
  std::unique_ptr<Graph> g = test::if_with_captures();
  ir::infer_graph(*g);
  EXPECT_FALSE(split_host_tail(*g, evaluate_static_prefix(*g, bind_input_shapes(*g, {}), true)));
  // The memory planner's rule still treats it as known only when it runs.
  EXPECT_FALSE(evaluate_static_prefix(*g, bind_input_shapes(*g, {})).why.empty());
}

}  // namespace
}  // namespace kiln::builder
