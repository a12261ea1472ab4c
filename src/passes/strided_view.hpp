// Strided views through chains of layers that only rearrange or slice their input: Reshape,
// Transpose, Squeeze, Unsqueeze and Gather with one constant index. Following such a chain from
// its source gives the shape, element strides and offset at which its last output sits inside the
// (packed) source, so a consumer that reads strides can read the source directly and the chain's
// copies disappear (absorb_attention_transposes uses it for attention operands).
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::passes {

struct StridedView {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;

  // A packed tensor of `shape`.
  static StridedView packed(const Shape& shape);
};

// Whether `n` is one of the layers above (a view when its inputs allow; view_chain checks).
bool is_view_op(const ir::Node* n);

// The chain of view layers ending in `v`, walking back through producers while they are view ops
// with static shapes; returns the source value (the first input of the chain) and the view of `v`
// inside it, or nullopt when `v` is not produced by a view op or a step is not a pure view. The
// chain's layers stay in the graph (other readers may need them); dead-code removal takes the
// rest.
struct ViewChain {
  ir::Value* source = nullptr;
  StridedView view;
  std::vector<const ir::Node*> nodes;  // source-side first
};
std::optional<ViewChain> view_chain(const ir::Value* v);

}  // namespace kiln::passes
