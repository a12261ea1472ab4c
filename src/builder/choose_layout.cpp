// Layout choice per backend: finds the regions of convolutions and the layout-agnostic layers
// connected to them, asks the policy table which run channels-last, and rewrites those with
// Transposes at their borders only; cancel_transposes then removes the pairs that undo each other
// (a channels-last model's input Transpose against the region's entry).
#include "builder/choose_layout.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

#include "core/logging.hpp"
#include "ir/op_registry.hpp"
#include "ir/op_traits.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/verifier.hpp"
#include "passes/passes.hpp"
#include "passes/use_index.hpp"

namespace kiln {

std::string_view to_string(Layout l) {
  switch (l) {
    case Layout::kNchw:
      return "nchw";
    case Layout::kNhwc:
      return "nhwc";
    case Layout::kAuto:
      break;
  }
  return "auto";
}

std::optional<Layout> parse_layout(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (Layout l : {Layout::kAuto, Layout::kNchw, Layout::kNhwc}) {
    if (lower == to_string(l)) return l;
  }
  return std::nullopt;
}

}  // namespace kiln

namespace kiln::builder {
namespace {

constexpr size_t kRank = 4;  // 2-D convolutions: NCHW <-> NHWC

enum class Role { kNone, kConv, kPool, kLayoutAgnostic, kConcat };

bool is_rank4(const ir::Value* v) {
  return v && v->shape && v->shape->size() == kRank;
}

// A value whose every dim is 1 broadcasts the same in either layout.
bool all_ones(const ir::Value* v) {
  if (!v || !v->shape || v->shape->size() > kRank) return false;
  for (const ir::Dim& d : *v->shape) {
    if (d.value != 1) return false;
  }
  return true;
}

// [N, C, 1, 1] holds its bytes in the same order in both layouts.
bool unit_spatial(const ir::Value* v) {
  return is_rank4(v) && (*v->shape)[2].value == 1 && (*v->shape)[3].value == 1;
}

bool is_transpose_with(const ir::Node* n, const std::vector<int64_t>& perm) {
  return n && n->op == "Transpose" && n->domain.empty() && n->attrs.has("perm") &&
         n->attrs.get_ints("perm") == perm;
}

// Whether a layout-agnostic layer's operand can follow the region: a rank-4 tensor (permuted with
// the rest), a value of ones (broadcasts either way) or a constant (re-laid out at build time).
bool operand_follows(const ir::Value* v) {
  if (!v) return true;
  if (is_rank4(v) || all_ones(v)) return true;
  return v->is_constant() && v->shape && v->shape->size() <= kRank;
}

// What the node does in a channels-last region, or kNone when it cannot be in one.
Role role_of(const ir::Node& n) {
  if (!n.domain.empty() || n.attrs.get_int(ir::kChannelsLastAttr, 0) != 0) return Role::kNone;
  for (const ir::Value* o : n.outputs) {
    if (o && !is_rank4(o)) return Role::kNone;
  }
  if (n.outputs.empty() || !n.outputs[0]) return Role::kNone;
  if (n.op == "Conv" || n.op == "FusedConv") {
    const ir::Value* w = n.input(1);
    bool ok = n.attrs.get_int("transposed", 0) == 0 && is_rank4(n.input(0)) && is_rank4(w) &&
              w->is_constant() && (!n.input(3) || is_rank4(n.input(3)));
    return ok ? Role::kConv : Role::kNone;
  }
  if (n.op == "MaxPool" || n.op == "AveragePool" || n.op == "GlobalAveragePool" ||
      n.op == "GlobalMaxPool") {
    bool indices = n.outputs.size() > 1 && n.outputs[1];
    return is_rank4(n.input(0)) && !indices ? Role::kPool : Role::kNone;
  }
  if (n.op == "Concat") {
    int64_t axis = n.attrs.get_int("axis", 0);
    if (axis != 1 && axis != 1 - static_cast<int64_t>(kRank)) return Role::kNone;
    for (const ir::Value* v : n.inputs) {
      if (!is_rank4(v)) return Role::kNone;
    }
    return Role::kConcat;
  }
  if (ir::op_traits(n).layout_agnostic) {
    for (const ir::Value* v : n.inputs) {
      if (!operand_follows(v)) return Role::kNone;
    }
    return Role::kLayoutAgnostic;
  }
  return Role::kNone;
}

// The input slots that carry the region's activations (the others are weights and biases).
bool is_activation_slot(Role role, size_t slot) {
  if (role == Role::kConv) return slot == 0 || slot == 3;
  if (role == Role::kPool) return slot == 0;
  return true;
}

struct UnionFind {
  std::vector<size_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  size_t find(size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void unite(size_t a, size_t b) { parent[find(a)] = find(b); }
};

struct Region {
  std::vector<ir::Node*> nodes;  // in graph order
  std::vector<Role> roles;       // of each node, decided before any rewrite
  bool has_conv = false;
};

// A constant re-laid out for a channels-last region: a rank-4 tensor permuted NCHW -> NHWC; a
// lower-rank one (broadcast against rank 4) first gets leading ones, then loses the leading ones
// of the result, so [C,1,1] becomes [C].
Tensor channels_last_constant(const Tensor& t) {
  Shape in(kRank - t.shape().size(), 1);
  in.insert(in.end(), t.shape().begin(), t.shape().end());
  Shape out = ir::to_channels_last(in);
  Shape kept = out;
  if (t.shape().size() < kRank) {
    while (kept.size() > 1 && kept.front() == 1) kept.erase(kept.begin());
  }
  Tensor r(t.dtype(), kept);
  size_t es = element_size(t.dtype());
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(r.raw());
  // out[n, h, w, c] = in[n, c, h, w]
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c) {
          int64_t from = ((n * C + c) * H + h) * W + w;
          int64_t to = ((n * H + h) * W + w) * C + c;
          std::memcpy(dst + static_cast<size_t>(to) * es, src + static_cast<size_t>(from) * es, es);
        }
  return r;
}

void count_border(RegionBorders& b, bool cancels, const ir::Value* v) {
  if (cancels)
    ++b.cancelling;
  else if (unit_spatial(v))
    ++b.neutral;
  else
    ++b.paid;
}

// Who reads what is asked of `uses`, an index of the graph before any region is rewritten: a
// region's rewrite makes only its own layers read the new channels-last values, so whether a value
// has a reader outside its region, or one that is a Transpose, is the same in that graph.
class RegionRewriter {
 public:
  RegionRewriter(ir::Graph& g, const passes::UseIndex& uses) : g_(g), uses_(uses) {}

  RegionBorders borders(const Region& r) const {
    std::set<const ir::Node*> in(r.nodes.begin(), r.nodes.end());
    std::set<const ir::Value*> produced, entries;
    RegionBorders b;
    for (const ir::Node* n : r.nodes) {
      for (const ir::Value* o : n->outputs) {
        if (o) produced.insert(o);
      }
    }
    const auto to_first = ir::channels_first_perm(kRank), to_last = ir::channels_last_perm(kRank);
    for (size_t k = 0; k < r.nodes.size(); ++k) {
      const ir::Node* n = r.nodes[k];
      Role role = r.roles[k];
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        const ir::Value* v = n->inputs[i];
        if (!is_activation_slot(role, i) || !is_rank4(v) || v->is_constant() || produced.count(v) ||
            !entries.insert(v).second) {
          continue;
        }
        count_border(b, is_transpose_with(v->producer, to_first), v);
      }
    }
    for (const ir::Value* v : produced) {
      std::vector<ir::Node*> outside;
      for (ir::Node* c : uses_.consumers(v)) {
        if (!in.count(c)) outside.push_back(c);
      }
      bool output = uses_.is_graph_output(v);
      if (outside.empty() && !output) continue;
      bool cancels = !output && std::all_of(outside.begin(), outside.end(), [&](ir::Node* c) {
        return is_transpose_with(c, to_last);
      });
      count_border(b, cancels, v);
    }
    return b;
  }

  void rewrite(const Region& r) {
    std::set<const ir::Node*> in(r.nodes.begin(), r.nodes.end());
    std::map<ir::Value*, ir::Value*> twin;  // region value -> its channels-last twin
    for (ir::Node* n : r.nodes) {
      for (ir::Value* o : n->outputs) {
        if (!o) continue;
        ir::Value* t = g_.add_value(g_.unique_value_name(o->name + "_nhwc"), o->dtype,
                                    ir::to_channels_last(*o->shape));
        twin[o] = t;
      }
    }
    for (size_t k = 0; k < r.nodes.size(); ++k) {
      ir::Node* n = r.nodes[k];
      Role role = r.roles[k];
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        ir::Value*& v = n->inputs[i];
        if (!v) continue;
        if (auto it = twin.find(v); it != twin.end()) {
          v = it->second;
        } else if (role == Role::kConv && i == 1) {
          v = relaid_constant(v);  // the weight: [K, C/g, R, S] -> [K, R, S, C/g]
        } else if (!is_activation_slot(role, i) || all_ones(v)) {
          continue;
        } else if (v->is_constant()) {
          v = relaid_constant(v);
        } else {
          v = entry(v);
        }
      }
      if (role == Role::kConv || role == Role::kPool)
        n->attrs.set(ir::kChannelsLastAttr, int64_t{1});
      if (role == Role::kConcat) n->attrs.set("axis", static_cast<int64_t>(kRank - 1));
    }
    for (ir::Node* n : r.nodes) {
      for (ir::Value*& o : n->outputs) {
        if (!o) continue;
        ir::Value* original = o;
        o = twin.at(original);
        o->producer = n;
        bool outside = uses_.is_graph_output(original);
        for (ir::Node* c : uses_.consumers(original)) outside |= !in.count(c);
        // The original value keeps its name, layout and readers, now made by the exit Transpose.
        original->producer = nullptr;
        if (outside) add_transpose(o, original, ir::channels_first_perm(kRank), "_to_nchw");
      }
    }
  }

 private:
  ir::Value* entry(ir::Value* v) {
    auto [it, fresh] = entries_.emplace(v, nullptr);
    if (fresh) {
      it->second = g_.add_value(g_.unique_value_name(v->name + "_nhwc"), v->dtype,
                                ir::to_channels_last(*v->shape));
      add_transpose(v, it->second, ir::channels_last_perm(kRank), "_to_nhwc");
    }
    return it->second;
  }

  ir::Value* relaid_constant(ir::Value* v) {
    auto [it, fresh] = constants_.emplace(v, nullptr);
    if (fresh) {
      it->second = g_.add_constant(g_.unique_value_name(v->name + "_nhwc"),
                                   channels_last_constant(*v->constant));
    }
    return it->second;
  }

  // A border layer from `from` to `to`: a Transpose, or for a [N, C, 1, 1] value (whose bytes are
  // in the same order either way) a Reshape, which the memory plan makes a view. A Transpose is
  // kept where it is to cancel one of the model's own (cancel_transposes does not see Reshapes).
  void add_transpose(ir::Value* from, ir::Value* to, const std::vector<int64_t>& perm,
                     const std::string& suffix) {
    const bool into_last = perm == ir::channels_last_perm(kRank);
    const ir::Value* nchw = into_last ? from : to;
    bool cancels = into_last ? is_transpose_with(from->producer, ir::channels_first_perm(kRank))
                             : !uses_.is_graph_output(to) && any_consumer_is_inverse(to);
    std::string name = g_.unique_node_name(from->name + suffix);
    if (unit_spatial(nchw) && (*nchw->shape)[1].known() && !cancels) {
      const int64_t c = (*nchw->shape)[1].value;
      std::vector<int64_t> dims =
          into_last ? std::vector<int64_t>{0, 1, 1, c} : std::vector<int64_t>{0, c, 1, 1};
      ir::Value* shape = g_.add_constant(
          g_.unique_value_name(name + "_shape"),
          Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(dims.size())}, dims));
      g_.add_node("Reshape", name, {from, shape}, {to});
      return;
    }
    ir::Node* t = g_.add_node("Transpose", name, {from}, {to});
    t->attrs.set("perm", perm);
  }

  bool any_consumer_is_inverse(const ir::Value* v) const {
    for (const ir::Node* c : uses_.consumers(v)) {
      if (is_transpose_with(c, ir::channels_last_perm(kRank))) return true;
    }
    return false;
  }

  ir::Graph& g_;
  const passes::UseIndex& uses_;
  std::map<ir::Value*, ir::Value*> entries_, constants_;
};

std::vector<Region> find_regions(ir::Graph& g) {
  std::vector<ir::Node*> nodes = g.node_list();
  std::map<const ir::Node*, size_t> index;
  std::vector<Role> roles(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    index[nodes[i]] = i;
    roles[i] = role_of(*nodes[i]);
  }
  UnionFind uf(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (roles[i] == Role::kNone) continue;
    for (size_t s = 0; s < nodes[i]->inputs.size(); ++s) {
      const ir::Value* v = nodes[i]->inputs[s];
      if (!is_activation_slot(roles[i], s) || !is_rank4(v) || v->is_constant() || !v->producer)
        continue;
      size_t p = index.at(v->producer);
      if (roles[p] != Role::kNone) uf.unite(i, p);
    }
  }
  std::map<size_t, Region> by_root;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (roles[i] == Role::kNone) continue;
    Region& r = by_root[uf.find(i)];
    r.nodes.push_back(nodes[i]);
    r.roles.push_back(roles[i]);
    r.has_conv |= roles[i] == Role::kConv;
  }
  std::vector<Region> out;
  for (auto& [root, r] : by_root) {
    if (r.has_conv) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

bool region_runs_channels_last(LayoutPolicy policy, Layout requested,
                               const RegionBorders& borders) {
  switch (requested) {
    case Layout::kNchw:
      return false;
    case Layout::kNhwc:
      return true;
    case Layout::kAuto:
      break;
  }
  if (policy == LayoutPolicy::kChannelsLastAlways) return true;
  return borders.cancelling > 0 && borders.paid <= borders.cancelling;
}

LayoutSummary choose_layout(ir::Graph& graph, LayoutPolicy policy, Layout requested) {
  LayoutSummary s;
  ir::infer_graph(graph);
  std::vector<Region> regions = find_regions(graph);
  s.regions = static_cast<int64_t>(regions.size());
  passes::UseIndex uses(graph);
  RegionRewriter rewriter(graph, uses);
  // Borders are measured on the graph as it was, before any region is rewritten.
  std::vector<bool> convert;
  for (const Region& r : regions)
    convert.push_back(region_runs_channels_last(policy, requested, rewriter.borders(r)));
  for (size_t i = 0; i < regions.size(); ++i) {
    if (!convert[i]) continue;
    rewriter.rewrite(regions[i]);
    ++s.channels_last_regions;
    s.channels_last_layers += static_cast<int64_t>(regions[i].nodes.size());
  }
  if (s.channels_last_regions > 0) {
    graph.sort_topologically();
    ir::infer_graph(graph);
    passes::cancel_transposes(graph);
    graph.remove_unused();
    ir::verify_graph(graph);  // as the pass manager does after every rewrite
  }
  for (const auto& n : graph.nodes()) s.transposes += n->op == "Transpose" ? 1 : 0;
  log(Severity::kInfo, cat("layout: ", s.channels_last_regions, " of ", s.regions,
                           " convolution region(s) channels-last (", s.channels_last_layers,
                           " layers); ", s.transposes, " Transpose layer(s) in the graph"));
  return s;
}

}  // namespace kiln::builder
