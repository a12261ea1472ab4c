// Graph construction, rewiring, dead-node removal, topological sort, cloning.
#include "ir/graph.hpp"

#include <gtest/gtest.h>

namespace kiln::ir {
namespace {

struct Chain {
  Graph g;
  Value* x;
  Value* a;
  Value* b;
  Node* first;
  Node* second;
  Chain() {
    x = g.add_value("x", DataType::kFloat32, SymShape{Dim::symbolic("n"), 4});
    g.inputs().push_back(x);
    a = g.add_value("a");
    b = g.add_value("b");
    first = g.add_node("Relu", "first", {x}, {a});
    second = g.add_node("Sigmoid", "second", {a}, {b});
    g.outputs().push_back(b);
  }
};

TEST(Graph, TracksProducersAndConsumers) {
  Chain c;
  EXPECT_EQ(c.a->producer, c.first);
  ASSERT_EQ(c.g.consumers(c.a).size(), 1u);
  EXPECT_EQ(c.g.consumers(c.a)[0], c.second);
  EXPECT_TRUE(c.g.is_graph_input(c.x));
  EXPECT_TRUE(c.g.is_graph_output(c.b));
}

TEST(Graph, ReplaceAllUsesRewiresNodesAndOutputs) {
  Chain c;
  c.g.replace_all_uses(c.b, c.a);
  EXPECT_EQ(c.g.outputs()[0], c.a);
  c.g.remove_unused();
  ASSERT_EQ(c.g.nodes().size(), 1u);
  EXPECT_EQ(c.g.nodes()[0]->name, "first");
  EXPECT_EQ(c.g.find_value("b"), nullptr);
}

TEST(Graph, SortsTopologicallyAndDetectsCycles) {
  Chain c;
  Graph& g = c.g;
  // Move the consumer first, then sort it back.
  auto nodes = g.node_list();
  Value* extra = g.add_value("c");
  g.add_node("Relu", "third", {c.b}, {extra});
  g.outputs()[0] = extra;
  g.sort_topologically();
  std::vector<std::string> order;
  for (Node* n : g.node_list()) order.push_back(n->name);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second", "third"}));

  c.first->inputs[0] = extra;  // third -> first -> second -> third
  EXPECT_THROW(g.sort_topologically(), Error);
}

TEST(Graph, CloneIsDeepForStructureAndSharesConstants) {
  Chain c;
  Value* k =
      c.g.add_constant("k", Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{1, 2}));
  c.second->inputs.push_back(k);
  auto copy = c.g.clone();
  ASSERT_EQ(copy->nodes().size(), 2u);
  EXPECT_NE(copy->nodes()[0].get(), c.first);
  EXPECT_EQ(copy->nodes()[1]->inputs[0], copy->nodes()[0]->outputs[0]);
  const Value* ck = copy->find_value("k");
  ASSERT_TRUE(ck && ck->is_constant());
  EXPECT_EQ(ck->constant->raw(), k->constant->raw());
  EXPECT_EQ((*copy->find_value("x")->shape)[0].symbol, "n");
}

TEST(Graph, UniqueNamesAvoidCollisions) {
  Chain c;
  EXPECT_EQ(c.g.unique_value_name("fresh"), "fresh");
  EXPECT_EQ(c.g.unique_value_name("a"), "a_1");
  EXPECT_EQ(c.g.unique_node_name("first"), "first_1");
}

}  // namespace
}  // namespace kiln::ir
