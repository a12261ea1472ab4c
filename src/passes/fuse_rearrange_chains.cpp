// A chain of layers that only reformat a tensor (Cast between float types, Reshape-like views,
// Transpose, and a zero Pad after the last axis at its end) with two or more of them copying
// becomes one Rearrange (ir/ops/rearrange.hpp): one read and one write of the data instead of one
// of each per layer. A CNN's image input is the case: FP32 NCHW -> Cast FP16 -> NHWC Transpose
// (-> the stem's space-to-depth Transpose and channel Pad) in one kernel.
//
// The chain's view of its source is tracked as virtual dims (size, stride), grouped into the
// logical dims of each layer's output: a Transpose reorders the groups, a Reshape regroups the
// virtual dims (splitting one where a new dim takes part of it), a Cast changes only the type.
// `kiln build --disable-pass fuse_rearrange_chains` leaves every chain alone (for comparisons).
#include <string>

#include "ir/layer_precision.hpp"
#include "ir/op_traits.hpp"
#include "ir/ops/rearrange.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

constexpr size_t kMaxVirtualDims = 8;  // the CUDA kernel's

// Reshape, Flatten, Squeeze...: the same row-major elements under a new shape.
bool is_view_reshape(const ir::Node& n) {
  return ir::op_traits(n).view;
}

// Zero padding after the last axis only: the count, or -1 for any other Pad.
int64_t trailing_zero_pad(const ir::Node& n) {
  if (n.op != "Pad" || n.attrs.get_string("mode", "constant") != "constant") return -1;
  if (n.inputs.size() < 2 || !n.inputs[1] || !n.inputs[1]->is_constant()) return -1;
  if (n.inputs.size() > 2 && n.inputs[2]) {
    const ir::Value* c = n.inputs[2];
    if (!c->is_constant() || c->constant->numel() != 1 || c->dtype != DataType::kFloat32 ||
        c->constant->data<float>()[0] != 0.0f) {
      return -1;  // only the default zero (as a constant float32 0)
    }
  }
  if (n.inputs.size() > 3 && n.inputs[3]) return -1;  // axes
  std::optional<std::vector<int64_t>> pads = constant_ints(n.inputs[1]);
  if (!pads || pads->empty() || pads->size() % 2 != 0) return -1;
  for (size_t i = 0; i + 1 < pads->size(); ++i) {
    if ((*pads)[i] != 0) return -1;
  }
  return pads->back() > 0 ? pads->back() : -1;
}

// One layer a chain may hold; Pad only as its last.
bool is_chain_layer(const ir::Node& n) {
  if (!n.domain.empty() || n.outputs.size() != 1 || !n.output(0) || !n.input(0)) return false;
  if (!static_shape(n.output(0)) || !static_shape(n.input(0))) return false;
  if (!ir::is_rearranged_type(n.input(0)->dtype) || !ir::is_rearranged_type(n.output(0)->dtype))
    return false;
  if (n.op == "Cast" || n.op == "Transpose" || is_view_reshape(n)) return true;
  return trailing_zero_pad(n) > 0;
}

bool copies(const ir::Node& n) {
  return !is_view_reshape(n);
}

struct VirtualDim {
  int64_t size, stride;
};
using Group = std::vector<VirtualDim>;  // one logical dim

// Regroups `groups` (row-major over the same elements) into `shape`'s dims; false when a new dim
// does not split the virtual dims evenly.
bool regroup(std::vector<Group>& groups, const Shape& shape) {
  std::vector<VirtualDim> flat;
  for (const Group& g : groups) {
    for (const VirtualDim& d : g) {
      if (d.size != 1) flat.push_back(d);
    }
  }
  std::vector<Group> out;
  size_t i = 0;
  for (int64_t want : shape) {
    Group g;
    while (want > 1) {
      if (i == flat.size()) return false;
      VirtualDim& d = flat[i];
      if (d.size <= want) {
        if (want % d.size != 0) return false;
        g.push_back(d);
        want /= d.size;
        ++i;
      } else {
        if (d.size % want != 0) return false;
        // The outer `want` of this dim; its inner part stays for the next dim.
        const int64_t inner = d.size / want;
        g.push_back({want, d.stride * inner});
        d.size = inner;
        want = 1;
      }
    }
    out.push_back(std::move(g));
  }
  if (i != flat.size()) return false;
  groups = std::move(out);
  return true;
}

struct ChainView {
  std::vector<VirtualDim> dims;  // merged, row-major over the valid output elements
  int64_t pad = 0;
};

std::optional<ChainView> view_of(const std::vector<ir::Node*>& chain) {
  const Shape source = *static_shape(chain.front()->input(0));
  std::vector<Group> groups;
  int64_t stride = shape_numel(source);
  for (int64_t d : source) {
    stride = d ? stride / d : 0;
    groups.push_back({{d, stride}});
  }
  ChainView view;
  for (const ir::Node* n : chain) {
    if (n->op == "Transpose") {
      std::optional<std::vector<int64_t>> perm = perm_of(n);
      if (!perm || perm->size() != groups.size()) return std::nullopt;
      std::vector<Group> moved;
      for (int64_t p : *perm) moved.push_back(groups.at(static_cast<size_t>(p)));
      groups = std::move(moved);
    } else if (is_view_reshape(*n)) {
      if (!regroup(groups, *static_shape(n->output(0)))) return std::nullopt;
    } else if (n->op == "Pad") {
      view.pad = trailing_zero_pad(*n);
    }
  }
  for (const Group& g : groups) {
    for (const VirtualDim& d : g) {
      if (d.size == 1) continue;
      if (!view.dims.empty() && view.dims.back().stride == d.stride * d.size) {
        view.dims.back() = {view.dims.back().size * d.size, d.stride};  // contiguous: merge
      } else {
        view.dims.push_back(d);
      }
    }
  }
  if (view.dims.empty()) view.dims.push_back({1, 0});
  if (view.dims.size() > kMaxVirtualDims) return std::nullopt;
  return view;
}

// The chain ending at `end`: back through chain layers whose output only the next one reads.
std::vector<ir::Node*> chain_ending_at(const UseIndex& g, ir::Node* end) {
  std::vector<ir::Node*> chain{end};
  for (ir::Node* n = end; n->input(0)->producer;) {
    ir::Node* p = n->input(0)->producer;
    if (!is_chain_layer(*p) || p->op == "Pad" || g.is_graph_output(p->output(0)) ||
        g.consumers(p->output(0)).size() != 1) {
      break;
    }
    chain.insert(chain.begin(), p);
    n = p;
  }
  return chain;
}

// Whether `n` ends a chain: a chain layer whose output is used, and by no chain layer that could
// continue it.
bool ends_chain(const UseIndex& g, const ir::Node& n) {
  if (!is_chain_layer(n)) return false;
  if (g.is_graph_output(n.output(0))) return true;
  std::vector<ir::Node*> readers = g.consumers(n.output(0));
  if (readers.empty()) return false;
  return n.op == "Pad" || readers.size() != 1 || !is_chain_layer(*readers[0]);
}

}  // namespace

bool fuse_rearrange_chains(ir::Graph& graph) {
  // Found first, rewritten after; the layers the rewrites leave unused go once all are done.
  struct Fusion {
    std::vector<ir::Node*> chain;
    ChainView view;
  };
  std::vector<Fusion> fusions;
  PatternRewriter rewriter(graph);
  for (ir::Node* end : graph.node_list()) {
    if (!ends_chain(rewriter.uses(), *end)) continue;
    std::vector<ir::Node*> chain = chain_ending_at(rewriter.uses(), end);
    size_t copying = 0, casts = 0;
    for (const ir::Node* n : chain) {
      copying += copies(*n) ? 1 : 0;
      casts += n->op == "Cast" ? 1 : 0;
    }
    // Two Casts would round twice (FP32 -> FP16 -> FP32); the fused copy converts once.
    if (copying < 2 || casts > 1) continue;
    if (std::optional<ChainView> view = view_of(chain)) fusions.push_back({chain, *view});
  }
  for (const Fusion& f : fusions) {
    ir::Node* end = f.chain.back();
    const Shape shape = *static_shape(end->output(0));
    const DataType to = end->output(0)->dtype;
    const std::string precision = end->attrs.get_string(ir::kLayerPrecisionAttr, "");
    ir::Node* r = rewriter.replace(end, f.chain, "Rearrange", {f.chain.front()->input(0)});
    std::vector<int64_t> sizes, strides;
    for (const VirtualDim& d : f.view.dims) {
      sizes.push_back(d.size);
      strides.push_back(d.stride);
    }
    r->attrs.set("sizes", sizes);
    r->attrs.set("strides", strides);
    r->attrs.set("shape", std::vector<int64_t>(shape.begin(), shape.end()));
    r->attrs.set("pad", f.view.pad);
    r->attrs.set("to", std::string(to_string(to)));
    if (!precision.empty()) r->attrs.set(ir::kLayerPrecisionAttr, precision);
  }
  return rewriter.finish();
}

}  // namespace kiln::passes
