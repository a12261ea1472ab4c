// Concrete shapes for a graph's tensors at one set of input shapes (the optimization profile):
// binds symbolic input dimensions, then walks the graph computing every shape, evaluating small
// integer shape arithmetic (Shape -> Gather -> Concat -> Reshape) as constant folding would.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_set>

#include "builder/memory_planner.hpp"

namespace kiln::builder {

// The shape of every graph input: `profile`'s where it names the input (it must agree with the
// input's rank and known dims; Error kInvalidArgument naming the input otherwise), the declared
// shape with each unknown dim taken as 1 (logged) where it does not; an input of unknown rank
// that `profile` does not name is left out. Names in `profile` that are not inputs are refused.
std::map<std::string, Shape> bind_input_shapes(const ir::Graph& graph,
                                               const std::map<std::string, Shape>& profile);

// The concrete shape of every tensor when the inputs have `inputs`' shapes, or nullopt with
// `why_not` naming a tensor whose shape depends on data (NonZero) or is otherwise unknown.
std::optional<StaticShapes> evaluate_static_shapes(const ir::Graph& graph,
                                                   const std::map<std::string, Shape>& inputs,
                                                   std::string& why_not);

// The part of a graph whose shapes are static: every tensor's shape that does not depend on data,
// and the layers that do (an output shape known only when it runs, or an input from such a
// layer). `why` names the first of them; empty when there are none.
struct StaticPrefix {
  StaticShapes shapes;  // the static tensors only
  std::unordered_set<const ir::Node*> data_dependent;
  std::string why;
};
// With `trust_subgraph_inference`, a layer with subgraphs (If, Loop, Scan) whose outputs shape
// inference knows in full counts as static (the CUDA backend runs it on the host, checking that
// shape); without it, such a layer is data-dependent (the memory planner's rule).
StaticPrefix evaluate_static_prefix(const ir::Graph& graph,
                                    const std::map<std::string, Shape>& inputs,
                                    bool trust_subgraph_inference = false);

}  // namespace kiln::builder
