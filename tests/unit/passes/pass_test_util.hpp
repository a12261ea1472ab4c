// Helpers for pass tests: a terse graph builder, a reference interpreter that runs a graph node by
// node on the CPU kernels (no passes), and a check that a pass keeps a graph's results.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/attribute.hpp"
#include "ir/graph.hpp"

namespace kiln::test {

class PassGraphBuilder {
 public:
  ir::Graph& graph() { return g_; }
  ir::Value* input(const std::string& name, ir::SymShape shape,
                   DataType dtype = DataType::kFloat32);
  ir::Value* scalar(float v, DataType dtype = DataType::kFloat32);
  ir::Value* constant(Shape shape, const std::vector<float>& values);
  // A weight of `shape` holding pattern_values(..., scale), in `dtype` (FP32 or FP16, converted
  // as the builder converts weights).
  ir::Value* weight(const Shape& shape, float scale, DataType dtype = DataType::kFloat32);
  ir::Value* ints(const std::vector<int64_t>& values);
  // Adds a node with one output and returns it.
  ir::Value* op(const std::string& op, std::vector<ir::Value*> inputs, ir::Attributes attrs = {});
  void output(ir::Value* v) { g_.outputs().push_back(v); }

 private:
  ir::Graph g_;
  int count_ = 0;
};

ir::Attributes attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> list);

// n deterministic weights spread over about [-0.2, 22 * scale - 0.2] (a fixed pattern, not a
// smooth ramp, so transposed or padded weights cannot pass by symmetry).
std::vector<float> pattern_values(size_t n, float scale);

// Runs the graph on the CPU kernels, in node order; returns its outputs.
std::vector<Tensor> run_graph(const ir::Graph& g, const std::map<std::string, Tensor>& feeds);

// Random values in [lo, hi) for every graph input, with symbolic dims taken from `dims`.
std::map<std::string, Tensor> random_feeds(const ir::Graph& g,
                                           const std::map<std::string, int64_t>& dims = {},
                                           float lo = -3, float hi = 3);

// The ops of the graph's nodes, in order.
std::vector<std::string> ops(const ir::Graph& g);

// Runs `pass` on a clone of `g` (after inference) and checks that it changed the graph, that the
// result verifies, and that its outputs match the original's within `rel` (relative to each
// output's largest magnitude; 0 asks for identical bits). Returns the rewritten graph.
std::unique_ptr<ir::Graph> apply_and_compare(ir::Graph& g, bool (*pass)(ir::Graph&), double rel,
                                             const std::map<std::string, int64_t>& dims = {});

}  // namespace kiln::test
