// Strided views through chains of layers that only rearrange or slice their input: Reshape,
// Transpose, Squeeze, Unsqueeze and Gather with one constant index. Following such a chain from
// its source gives the shape, element strides and offset at which its last output sits inside the
// (packed) source, so a consumer that reads strides can read the source directly and the chain's
// copies disappear (absorb_attention_transposes uses it for attention operands).
#pragma once

#include <memory>
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

// view_chain for many values of one graph: each chain is followed from where an earlier one left
// off (the view of every value on the way is remembered), so asking for every value along a chain
// of n view layers costs O(n) rather than O(n^2), and a chain's layers are listed only on request.
class ViewChains {
 public:
  ViewChains();
  ~ViewChains();
  ViewChains(const ViewChains&) = delete;
  ViewChains& operator=(const ViewChains&) = delete;

  struct Found {
    ir::Value* source = nullptr;
    StridedView view;
    size_t length = 0;  // how many layers the chain has
  };
  // What view_chain(v) returns, less the list of layers.
  std::optional<Found> find(const ir::Value* v);
  // The layers of v's chain, source-side first (find(v) must have found one).
  std::vector<const ir::Node*> layers(const ir::Value* v);
  // Drops what is remembered about `v`, after the layer writing it changed. (Values computed from
  // it must not have been asked for yet: ask in topological order.)
  void forget(const ir::Value* v);

 private:
  struct Memo;
  std::unique_ptr<Memo> memo_;
};

}  // namespace kiln::passes
