// Small matchers and one rewrite shared by the pattern-recognition passes (recognize_layernorm,
// recognize_gelu, recognize_attention, cancel_transposes, fuse_pointwise).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "passes/use_index.hpp"

namespace kiln::passes {

// The value of a constant float tensor holding exactly one element.
std::optional<double> scalar_constant(const ir::Value* v);
// True when `v` is a one-element float constant within `rel` relative error of `expected`.
bool is_scalar(const ir::Value* v, double expected, double rel = 1e-5);
// The node producing `v` if its op is `op` (default ONNX domain), else nullptr.
ir::Node* producer_op(const ir::Value* v, const std::string& op);
// For a two-input node one of whose inputs is `v`: the other input (nullptr if neither is `v`).
ir::Value* other_input(const ir::Node* n, const ir::Value* v);
// True when `v` is not a graph output and every node reading it is in `group`.
bool used_only_by(const ir::Graph& graph, const ir::Value* v,
                  const std::vector<const ir::Node*>& group);
// The only node reading `v`, when `v` has exactly one reader (reading it once) and is not a
// graph output.
ir::Node* sole_consumer(const ir::Graph& graph, const ir::Value* v);
// The same two questions answered by a pass's use index, in O(readers of v).
bool used_only_by(const UseIndex& uses, const ir::Value* v,
                  const std::vector<const ir::Node*>& group);
ir::Node* sole_consumer(const UseIndex& uses, const ir::Value* v);
// True when both shapes are known to be equal: same rank and every dim known or symbolic, alike.
bool same_static_shape(const std::optional<ir::SymShape>& a, const std::optional<ir::SymShape>& b);
// The shape of `v` when every dim is known, else nullopt.
std::optional<Shape> static_shape(const ir::Value* v);
// The integer values of a constant (int32 or int64), or nullopt.
std::optional<std::vector<int64_t>> constant_ints(const ir::Value* v);
// A node's axes, from its `axes` attribute (older opsets) or its second input (newer ones),
// normalized to `rank` and sorted; empty when it has neither, nullopt when they are not known
// constants or out of range.
std::optional<std::vector<int64_t>> node_axes(const ir::Node& n, size_t rank);
// A MatMul, FusedMatMul or Gemm x @ W acting on each row of x alone: no transA, a constant 2-D W,
// no residual (a bias row and an activation act per row).
bool is_row_wise_product(const ir::Node* m);
// The graph's ScaledDotProductAttention layers that `wanted` accepts (all when it is empty).
std::vector<ir::Node*> attention_layers(ir::Graph& graph,
                                        const std::function<bool(const ir::Node&)>& wanted);
// A Transpose node's permutation (the reversal default needs its input's rank), or nullopt.
std::optional<std::vector<int64_t>> perm_of(const ir::Node* transpose);
bool is_float_type(DataType t);

// A channels-last, ungrouped, forward Conv or FusedConv of a non-empty 16-bit input with a
// constant weight, both of static shape: their shapes ([N, spatial..., C] and [K, spatial..., C]);
// nullopt for any other layer. The convolutions the GPU stem rewrites may change.
struct ConvShapes {
  Shape x, w;
};
std::optional<ConvShapes> sixteen_bit_nhwc_conv(const ir::Node& n);

// Replaces the sub-graph ending at `last` (whose output 0 is the result) by one new node computing
// the same result: the new node writes `last`'s output value (so names and graph outputs stay),
// lists the origins of every node in `matched`, and the nodes left unused are removed. Leaves the
// graph in topological order and returns the new node.
ir::Node* replace_pattern(ir::Graph& graph, ir::Node* last, const std::vector<ir::Node*>& matched,
                          const std::string& op, std::vector<ir::Value*> inputs);

// replace_pattern for a pass that rewrites every match it finds in one sweep over the graph:
// calling replace_pattern per match would sort and sweep the whole graph each time, quadratic in
// the graph's size on a model with a match per block. Matchers ask uses() who reads what; nodes a
// rewrite leaves unused are forgotten there at once (gone() says so; sweeps skip them) and leave
// the graph, which is sorted again, in finish().
class PatternRewriter {
 public:
  explicit PatternRewriter(ir::Graph& graph) : uses_(graph) {}

  const UseIndex& uses() const { return uses_; }
  bool gone(const ir::Node* n) const { return uses_.forgotten(n); }
  // What replace_pattern does, but the graph is sorted and swept only in finish().
  ir::Node* replace(ir::Node* last, const std::vector<ir::Node*>& matched, const std::string& op,
                    std::vector<ir::Value*> inputs);
  // Removes the unused nodes and values and restores topological order; returns whether any
  // pattern was replaced.
  bool finish();

 private:
  UseIndex uses_;
  bool replaced_ = false;
};

}  // namespace kiln::passes
