// The passes' use index answers as the graph's own scans do (Graph::consumers, is_graph_output)
// after every kind of edit made through it, including on a value read by many layers.
#include "passes/use_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

// Every question the index answers, checked against the graph's own scans for every value.
void expect_agrees_with_graph(const UseIndex& uses, const ir::Graph& g) {
  for (const auto& v : g.values()) {
    std::vector<ir::Node*> want = g.consumers(v.get());
    ASSERT_EQ(uses.consumers(v.get()), want) << v->name;
    EXPECT_EQ(uses.has_consumers(v.get()), !want.empty()) << v->name;
    EXPECT_EQ(uses.only_consumer(v.get()), want.size() == 1 ? want[0] : nullptr) << v->name;
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(uses.has_more_consumers_than(v.get(), k), want.size() > k) << v->name;
    }
    EXPECT_EQ(uses.is_graph_output(v.get()), g.is_graph_output(v.get())) << v->name;
    EXPECT_EQ(uses.is_graph_input(v.get()), g.is_graph_input(v.get())) << v->name;
  }
}

struct Fan {
  ir::Graph g;
  ir::Value* x;
  std::vector<ir::Value*> ys;
  std::vector<ir::Node*> readers;
  explicit Fan(int n) {
    x = g.add_value("x");
    g.inputs().push_back(x);
    for (int i = 0; i < n; ++i) {
      ys.push_back(g.add_value("y" + std::to_string(i)));
      // Every third reader reads x twice.
      std::vector<ir::Value*> ins = i % 3 ? std::vector{x} : std::vector{x, x};
      readers.push_back(g.add_node(i % 3 ? "Relu" : "Add", "r" + std::to_string(i), ins, {ys[i]}));
    }
    for (int i = 0; i < n; i += 2) g.outputs().push_back(ys[i]);
  }
};

TEST(UseIndex, AgreesWithTheGraphAfterEdits) {
  Fan f(12);
  UseIndex uses(f.g);
  expect_agrees_with_graph(uses, f.g);
  uses.set_input(f.readers[1], 0, f.ys[0]);  // r1 now reads y0
  uses.set_input(f.readers[2], 1, f.ys[3]);  // r2 grows a second input
  uses.set_inputs(f.readers[4], {f.ys[1], f.ys[1]});
  expect_agrees_with_graph(uses, f.g);
  uses.replace_all_uses(f.x, f.ys[5]);      // nodes and (none) outputs
  uses.replace_all_uses(f.ys[3], f.ys[7]);  // r2's second input
  uses.replace_all_uses(f.ys[2], f.ys[9]);  // a graph output
  expect_agrees_with_graph(uses, f.g);
  ir::Value* z = f.g.add_value("z");
  ir::Node* added = uses.add_node("Sigmoid", "added", {f.ys[7], f.ys[7]}, {z});
  expect_agrees_with_graph(uses, f.g);
  EXPECT_EQ(uses.only_consumer(z), nullptr);
  uses.remove_node(added);
  EXPECT_TRUE(uses.forgotten(added));
  EXPECT_EQ(z->producer, nullptr);
  uses.remove_forgotten_nodes();
  expect_agrees_with_graph(uses, f.g);
}

TEST(UseIndex, EditsBeforeFirstUseAreSeen) {
  // The index is built on first use: a node added through it before then is counted once.
  Fan f(3);
  UseIndex uses(f.g);
  ir::Value* z = f.g.add_value("z");
  uses.add_node("Relu", "late", {f.ys[0]}, {z});
  expect_agrees_with_graph(uses, f.g);
}

TEST(UseIndex, ForgottenNodesAreNoReaders) {
  Fan f(4);
  UseIndex uses(f.g);
  uses.forget_node(f.readers[1]);
  uses.forget_node(f.readers[1]);  // twice is once
  std::vector<ir::Node*> want = {f.readers[0], f.readers[2], f.readers[3]};
  EXPECT_EQ(uses.consumers(f.x), want);
  uses.remove_forgotten_nodes();
  EXPECT_EQ(f.g.nodes().size(), 3u);
  expect_agrees_with_graph(uses, f.g);
}

TEST(UseIndex, ForgetIfDeadFollowsTheChainUpToLiveValues) {
  // x -> na -> a -> nb -> b (unread), a -> nc -> c (the output).
  ir::Graph g;
  ir::Value* x = g.add_value("x");
  g.inputs().push_back(x);
  std::vector<ir::Value*> v = {g.add_value("a"), g.add_value("b"), g.add_value("c")};
  ir::Node* na = g.add_node("Relu", "na", {x}, {v[0]});
  ir::Node* nb = g.add_node("Relu", "nb", {v[0]}, {v[1]});
  ir::Node* nc = g.add_node("Relu", "nc", {v[0]}, {v[2]});
  g.outputs().push_back(v[2]);
  UseIndex uses(g);
  uses.forget_if_dead(nb);  // b unread: nb goes; a is still read by nc
  EXPECT_TRUE(uses.forgotten(nb));
  EXPECT_FALSE(uses.forgotten(na));
  EXPECT_FALSE(uses.forgotten(nc));
  uses.forget_if_dead(nc);  // c is a graph output: stays
  EXPECT_FALSE(uses.forgotten(nc));
}

TEST(UseIndex, ManyEditsOnAValueReadByManyLayersStayFast) {
  // 50,000 readers of one value, each rewired in turn: constant work per edit (a scan per edit
  // would take minutes here).
  Fan f(50000);
  UseIndex uses(f.g);
  ir::Value* w = f.g.add_value("w");
  for (ir::Node* r : f.readers) uses.set_input(r, 0, w);
  EXPECT_EQ(uses.consumers(w).size(), 50000u);
  EXPECT_EQ(uses.consumers(f.x).size(), 16667u);  // the Adds read x twice
  for (ir::Node* r : f.readers) uses.forget_node(r);
  EXPECT_FALSE(uses.has_consumers(w));
  EXPECT_FALSE(uses.has_consumers(f.x));
}

TEST(UseIndex, ReplaceNodeOutputHandsOverGraphOutputNames) {
  ir::Graph g;
  ir::Value* x = g.add_value("x");
  g.inputs().push_back(x);
  ir::Value* y = g.add_value("y");
  ir::Value* out = g.add_value("out");
  g.add_node("Relu", "r", {x}, {y});
  ir::Node* id = g.add_node("Identity", "id", {y}, {out});
  g.outputs().push_back(out);
  UseIndex uses(g);
  EXPECT_TRUE(replace_node_output(uses, id, 0, y));
  EXPECT_EQ(g.outputs()[0], y);
  EXPECT_EQ(y->name, "out");
  EXPECT_EQ(g.find_value("out"), y);
  EXPECT_EQ(out->name, "out_replaced");
  expect_agrees_with_graph(uses, g);
  // A graph input cannot take a graph output's name.
  ir::Node* r = y->producer;
  EXPECT_FALSE(replace_node_output(uses, r, 0, x));
}

}  // namespace
}  // namespace kiln::passes
