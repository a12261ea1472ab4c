// The graph's name index and bulk removal: lookups and fresh names follow adds, renames, removals
// and clones; dead-code removal retires a long dead chain in one call; removing many nodes at once
// leaves the rest in order.
#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

#include "ir/graph.hpp"

namespace kiln::ir {
namespace {

// x -> Relu "r" -> y, y the output; returns y.
Value* relu_graph(Graph& g) {
  Value* x = g.add_value("x");
  g.inputs().push_back(x);
  Value* y = g.add_value("y");
  g.add_node("Relu", "r", {x}, {y});
  g.outputs().push_back(y);
  return y;
}

TEST(GraphNames, LookupsFollowAddsAndRenames) {
  Graph g;
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  EXPECT_EQ(g.find_value("a"), a);
  EXPECT_EQ(g.find_value("b"), b);
  EXPECT_EQ(g.find_value("c"), nullptr);
  g.rename_value(a, "c");
  EXPECT_EQ(g.find_value("a"), nullptr);
  EXPECT_EQ(g.find_value("c"), a);
  EXPECT_EQ(g.unique_value_name("a"), "a");  // free again
  EXPECT_EQ(g.unique_value_name("c"), "c_1");
  Value* again = g.add_value("a");
  EXPECT_EQ(g.find_value("a"), again);
}

TEST(GraphNames, FreshNamesSkipTakenSuffixes) {
  Graph g;
  g.add_value("t");
  g.add_value("t_1");
  g.add_value("t_2");
  EXPECT_EQ(g.unique_value_name("t"), "t_3");
  g.add_node("Relu", "n", {}, {});
  g.add_node("Relu", "n_1", {}, {});
  EXPECT_EQ(g.unique_node_name("n"), "n_2");
  EXPECT_EQ(g.unique_node_name("m"), "m");
}

TEST(GraphNames, RemovedNodesAndValuesFreeTheirNames) {
  Graph g;
  Value* x = g.add_value("x");
  g.inputs().push_back(x);
  Value* y = g.add_value("y");
  Value* dead = g.add_value("dead");
  g.add_node("Relu", "keep", {x}, {y});
  Node* gone = g.add_node("Relu", "gone", {x}, {dead});
  g.outputs().push_back(y);
  EXPECT_EQ(g.unique_node_name("gone"), "gone_1");
  g.remove_node(gone);
  EXPECT_EQ(g.unique_node_name("gone"), "gone");
  g.remove_unused();  // drops the value `dead`
  EXPECT_EQ(g.find_value("dead"), nullptr);
  EXPECT_EQ(g.unique_value_name("dead"), "dead");
  EXPECT_EQ(g.find_value("y"), y);
}

TEST(GraphNames, ValueRenamedDirectlyIsFoundAfterRemoveUnusedRebuildsTheIndex) {
  Graph g;
  Value* y = relu_graph(g);
  g.add_value("spare");  // unreferenced: remove_unused drops it
  y->name = "out";       // behind the index's back (tests and tools do this)
  g.remove_unused();
  EXPECT_EQ(g.find_value("out"), y);
  EXPECT_EQ(g.find_value("y"), nullptr);
}

TEST(GraphNames, ClonesHaveTheirOwnIndex) {
  Graph g;
  Value* y = relu_graph(g);
  auto copy = g.clone();
  Value* cy = copy->find_value("y");
  ASSERT_NE(cy, nullptr);
  EXPECT_NE(cy, y);
  copy->rename_value(cy, "z");
  EXPECT_EQ(copy->find_value("z"), cy);
  EXPECT_EQ(g.find_value("y"), y);
  EXPECT_EQ(g.find_value("z"), nullptr);
  EXPECT_EQ(copy->unique_node_name("r"), "r_1");
}

TEST(GraphRemoval, LongDeadChainGoesInOneCall) {
  // 20,000 layers nobody reads, behind one live layer: one sweep retires them all.
  Graph g;
  Value* x = g.add_value("x");
  g.inputs().push_back(x);
  Value* live = g.add_value("live");
  g.add_node("Relu", "live", {x}, {live});
  g.outputs().push_back(live);
  Value* v = x;
  for (int i = 0; i < 20000; ++i) {
    Value* next = g.add_value("d" + std::to_string(i));
    g.add_node("Relu", "dead" + std::to_string(i), {v}, {next});
    v = next;
  }
  g.remove_unused();
  ASSERT_EQ(g.nodes().size(), 1u);
  EXPECT_EQ(g.nodes()[0]->name, "live");
  EXPECT_EQ(g.values().size(), 2u);
  EXPECT_EQ(g.unique_node_name("dead7"), "dead7");
}

TEST(GraphRemoval, DeadCycleKeepsItselfAsBefore) {
  // A dead cycle keeps itself alive (each reads the other): the rule is the same as ever.
  Graph g;
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  g.add_node("Relu", "p", {b}, {a});
  g.add_node("Relu", "q", {a}, {b});
  g.remove_unused();
  EXPECT_EQ(g.nodes().size(), 2u);
}

TEST(GraphRemoval, RemoveNodesKeepsTheOthersInOrder) {
  Graph g;
  Value* v = g.add_value("x");
  std::unordered_set<const Node*> doomed;
  for (int i = 0; i < 10; ++i) {
    Value* next = g.add_value("v" + std::to_string(i));
    Node* n = g.add_node("Relu", "n" + std::to_string(i), {v}, {next});
    if (i % 3 == 0) doomed.insert(n);
    v = next;
  }
  g.remove_nodes(doomed);
  std::string order;
  for (const auto& n : g.nodes()) order += n->name + " ";
  EXPECT_EQ(order, "n1 n2 n4 n5 n7 n8 ");
  EXPECT_EQ(g.find_value("v0")->producer, nullptr);
  EXPECT_EQ(g.find_value("v1")->producer->name, "n1");
  EXPECT_EQ(g.unique_node_name("n3"), "n3");
}

}  // namespace
}  // namespace kiln::ir
