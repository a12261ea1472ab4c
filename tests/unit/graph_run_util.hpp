// Runs a hand-built graph end to end on the CPU (engine and execution context), with or without
// the optimizing passes, so pass tests can compare a rewritten graph's results with the original's.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::test {

// Builds an engine from a copy of `graph` at `optimization_level` (0: no rewriting passes) and
// runs it on `feeds`.
std::vector<Tensor> run_graph(const ir::Graph& graph, const std::map<std::string, Tensor>& feeds,
                              int optimization_level = 0);

// A float32 tensor of `shape` with values uniform in [lo, hi) from a fixed seed.
Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// Largest |a - b| relative to max(1, |b|), over float32/float64/float16 tensors of equal shape.
double max_relative_error(const Tensor& a, const Tensor& b);

// Appends `op` on `inputs` with one fresh output value, which it returns.
ir::Value* add_op(ir::Graph& g, const std::string& op, std::vector<ir::Value*> inputs,
                  const ir::Attributes& attrs = {});
// A graph input of float32 and `shape`.
ir::Value* add_input(ir::Graph& g, const std::string& name, ir::SymShape shape);
// The graph's op types in order.
std::vector<std::string> op_types(const ir::Graph& g);

// Runs `pass` on `g` (after shape inference) and checks the rewritten graph verifies and computes
// what the original did on `feeds`; returns whether the pass changed the graph, and sets `error`
// to the worst relative difference over all outputs.
bool run_pass_and_compare(ir::Graph& g, bool (*pass)(ir::Graph&),
                          const std::map<std::string, Tensor>& feeds, double& error);

}  // namespace kiln::test
