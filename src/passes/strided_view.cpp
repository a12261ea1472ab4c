// Views are tracked as layouts whose dims may be made of several (size, stride) factors: merging
// two dims that are not contiguous (the batch and head dims of a slice, say) keeps both factors,
// so a later Transpose and Reshape that split them again end as plain strides. Only the final
// result must be one stride per dim.
#include "passes/strided_view.hpp"

#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "passes/pattern.hpp"

namespace kiln::passes {
namespace {

struct Factor {
  int64_t size, stride;
};

struct Layout {
  std::vector<std::vector<Factor>> dims;  // outermost factor first within a dim
  int64_t offset = 0;

  int64_t dim_size(size_t d) const {
    int64_t n = 1;
    for (const Factor& f : dims[d]) n *= f.size;
    return n;
  }
  Shape shape() const {
    Shape s;
    for (size_t d = 0; d < dims.size(); ++d) s.push_back(dim_size(d));
    return s;
  }
};

Layout packed_layout(const Shape& shape) {
  Layout l;
  int64_t stride = 1;
  l.dims.resize(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] != 1) l.dims[i].push_back({shape[i], stride});
    stride *= shape[i];
  }
  return l;
}

bool listed(const std::vector<int64_t>& axes, size_t i) {
  return std::find(axes.begin(), axes.end(), static_cast<int64_t>(i)) != axes.end();
}

// Regroups the factors, outermost first, into dims of `shape`, splitting a factor where a dim
// ends inside it (it must divide evenly).
std::optional<Layout> reshape_layout(const Layout& in, const Shape& shape) {
  std::vector<Factor> factors;
  for (const auto& dim : in.dims) factors.insert(factors.end(), dim.begin(), dim.end());
  Layout out;
  out.offset = in.offset;
  size_t next = 0;
  for (int64_t size : shape) {
    std::vector<Factor> dim;
    int64_t need = size;
    while (need > 1) {
      if (next >= factors.size()) return std::nullopt;
      Factor& f = factors[next];
      if (f.size <= need) {
        if (need % f.size != 0) return std::nullopt;
        dim.push_back(f);
        need /= f.size;
        ++next;
      } else {
        if (f.size % need != 0) return std::nullopt;
        // The outer part of the factor goes to this dim; the inner part stays for the next.
        dim.push_back({need, f.stride * (f.size / need)});
        f.size /= need;
        need = 1;
      }
    }
    out.dims.push_back(std::move(dim));
  }
  if (next != factors.size()) return std::nullopt;
  return out;
}

// One stride per dim, merging factors laid out contiguously; nullopt when a dim keeps two.
std::optional<StridedView> to_strided(const Layout& l) {
  StridedView v;
  v.offset = l.offset;
  for (const auto& dim : l.dims) {
    if (dim.empty()) {
      v.shape.push_back(1);
      v.strides.push_back(0);
      continue;
    }
    int64_t size = dim.back().size, stride = dim.back().stride;
    for (size_t k = dim.size() - 1; k-- > 0;) {
      if (dim[k].stride != size * stride) return std::nullopt;
      size *= dim[k].size;
    }
    v.shape.push_back(size);
    v.strides.push_back(stride);
  }
  return v;
}

std::optional<Layout> apply(const ir::Node& n, const Layout& in, const Shape& out_shape) {
  const size_t rank = in.dims.size();
  if (n.op == "Reshape") return reshape_layout(in, out_shape);
  Layout out;
  out.offset = in.offset;
  if (n.op == "Transpose") {
    std::vector<int64_t> perm(rank);
    std::iota(perm.rbegin(), perm.rend(), 0);
    if (n.attrs.has("perm")) perm = n.attrs.get_ints("perm");
    if (perm.size() != rank) return std::nullopt;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(rank)) return std::nullopt;
      out.dims.push_back(in.dims[static_cast<size_t>(p)]);
    }
  } else if (n.op == "Squeeze") {
    auto axes = node_axes(n, rank);
    if (!axes) return std::nullopt;
    for (size_t i = 0; i < rank; ++i) {
      const bool one = in.dim_size(i) == 1;
      if (one && (axes->empty() || listed(*axes, i))) continue;
      if (listed(*axes, i)) return std::nullopt;  // squeezing a dim that is not 1
      out.dims.push_back(in.dims[i]);
    }
  } else if (n.op == "Unsqueeze") {
    auto axes = node_axes(n, out_shape.size());  // positions in the output
    if (!axes) return std::nullopt;
    size_t src = 0;
    for (size_t i = 0; i < out_shape.size(); ++i) {
      if (listed(*axes, i)) {
        out.dims.emplace_back();
      } else if (src < rank) {
        out.dims.push_back(in.dims[src++]);
      }
    }
  } else if (n.op == "Gather") {
    auto index = constant_ints(n.inputs.size() > 1 ? n.inputs[1] : nullptr);
    if (!index || index->size() != 1) return std::nullopt;
    int64_t axis = n.attrs.get_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(rank);
    if (axis < 0 || axis >= static_cast<int64_t>(rank)) return std::nullopt;
    const auto a = static_cast<size_t>(axis);
    int64_t k = (*index)[0];
    if (k < 0) k += in.dim_size(a);
    if (k < 0 || k >= in.dim_size(a)) return std::nullopt;
    out = in;
    // The index within the dim's factors, innermost factor last.
    for (size_t f = in.dims[a].size(); f-- > 0;) {
      out.offset += (k % in.dims[a][f].size) * in.dims[a][f].stride;
      k /= in.dims[a][f].size;
    }
    out.dims[a].clear();
    if (n.inputs[1]->constant->shape().empty()) out.dims.erase(out.dims.begin() + axis);
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace

bool is_view_op(const ir::Node* n) {
  static const char* kViewOps[] = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Gather"};
  return n && n->domain.empty() && !n->inputs.empty() && n->inputs[0] &&
         std::any_of(std::begin(kViewOps), std::end(kViewOps),
                     [&](const char* op) { return n->op == op; });
}

StridedView StridedView::packed(const Shape& shape) {
  StridedView v{shape, std::vector<int64_t>(shape.size(), 1), 0};
  for (size_t i = shape.size(); i-- > 1;) v.strides[i - 1] = v.strides[i] * shape[i];
  return v;
}

// What is remembered per value: the fold of its chain up to it. Kept layers form a list shared
// by the values along the chain (each value adds one link), so remembering costs O(1) a value.
struct ViewChains::Memo {
  struct Kept {
    const ir::Node* node;
    std::shared_ptr<const Kept> before;
  };
  struct State {
    bool failed = false;  // no view: the chain has a layer or a source without a static shape
    ir::Value* source = nullptr;
    Layout layout;
    std::shared_ptr<const Kept> kept;
    size_t length = 0;
  };
  std::unordered_map<const ir::Value*, State> states;

  // Whether `v` is written by a view layer the chain goes back through.
  static bool extends(const ir::Value* v) {
    return is_view_op(v->producer) && static_shape(v->producer->inputs[0]);
  }

  const State& state(const ir::Value* v) {
    // Walk back to a value already known or the chain's start, then fold forward, remembering each.
    std::vector<const ir::Node*> pending;
    const ir::Value* cur = v;
    while (!states.count(cur) && extends(cur)) {
      pending.push_back(cur->producer);
      cur = cur->producer->inputs[0];
    }
    if (!states.count(cur)) {
      State start;
      std::optional<Shape> shape = static_shape(cur);
      start.failed = !shape || shape_numel(*shape) == 0;
      if (!start.failed) {
        start.source = const_cast<ir::Value*>(cur);
        start.layout = packed_layout(*shape);
      }
      states.emplace(cur, std::move(start));
    }
    for (size_t k = pending.size(); k-- > 0;) {
      const ir::Node* n = pending[k];
      const State& before = states.at(n->inputs[0]);
      State next;
      std::optional<Shape> out_shape = static_shape(n->outputs[0]);
      next.failed = before.failed || !out_shape;
      if (!next.failed) {
        std::optional<Layout> layout = apply(*n, before.layout, *out_shape);
        if (layout && layout->shape() == *out_shape) {
          next = {false, before.source, std::move(*layout),
                  std::make_shared<const Kept>(Kept{n, before.kept}), before.length + 1};
        } else {
          // A step that is no view (a split that does not divide) restarts the chain after it.
          next.source = n->outputs[0];
          next.layout = packed_layout(*out_shape);
        }
      }
      states.insert_or_assign(n->outputs[0], std::move(next));
    }
    return states.at(v);
  }
};

ViewChains::ViewChains() : memo_(std::make_unique<Memo>()) {}
ViewChains::~ViewChains() = default;

std::optional<ViewChains::Found> ViewChains::find(const ir::Value* v) {
  if (!Memo::extends(v)) return std::nullopt;
  const Memo::State& s = memo_->state(v);
  if (s.failed || s.length == 0) return std::nullopt;
  std::optional<StridedView> view = to_strided(s.layout);
  if (!view) return std::nullopt;
  return Found{s.source, *view, s.length};
}

std::vector<const ir::Node*> ViewChains::layers(const ir::Value* v) {
  std::vector<const ir::Node*> out;
  for (const Memo::Kept* k = memo_->state(v).kept.get(); k; k = k->before.get()) {
    out.push_back(k->node);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void ViewChains::forget(const ir::Value* v) {
  memo_->states.erase(v);
}

std::optional<ViewChain> view_chain(const ir::Value* v) {
  ViewChains chains;
  std::optional<ViewChains::Found> found = chains.find(v);
  if (!found) return std::nullopt;
  return ViewChain{found->source, found->view, chains.layers(v)};
}

}  // namespace kiln::passes
