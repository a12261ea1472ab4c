// Matchers shared by the pattern-recognition passes.
#include "passes/pattern.hpp"

#include "ir/ops/channels_last.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/cpu/dispatch.hpp"

namespace kiln::passes {

bool is_float_type(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16 ||
         t == DataType::kBFloat16;
}

std::optional<double> scalar_constant(const ir::Value* v) {
  if (!v || !v->is_constant() || v->constant->numel() != 1 || !is_float_type(v->dtype))
    return std::nullopt;
  return cpu::visit_dtype(v->dtype, [&](auto tag) -> std::optional<double> {
    using T = decltype(tag);
    return static_cast<double>(static_cast<cpu::compute_t<T>>(v->constant->data<T>()[0]));
  });
}

bool is_scalar(const ir::Value* v, double expected, double rel) {
  std::optional<double> s = scalar_constant(v);
  // A model saved in 16 bits stores sqrt(2) or 1/sqrt(8) rounded to its type: accept anything
  // within half a unit in the last place of that type as well.
  if (v && v->dtype == DataType::kFloat16) rel = std::max(rel, 0x1p-11);
  if (v && v->dtype == DataType::kBFloat16) rel = std::max(rel, 0x1p-8);
  return s && std::abs(*s - expected) <= rel * std::abs(expected);
}

ir::Node* producer_op(const ir::Value* v, const std::string& op) {
  if (!v || !v->producer || v->producer->op != op || !v->producer->domain.empty()) return nullptr;
  return v->producer;
}

ir::Value* other_input(const ir::Node* n, const ir::Value* v) {
  if (n->inputs.size() != 2) return nullptr;
  if (n->inputs[0] == v) return n->inputs[1];
  if (n->inputs[1] == v) return n->inputs[0];
  return nullptr;
}

bool used_only_by(const ir::Graph& graph, const ir::Value* v,
                  const std::vector<const ir::Node*>& group) {
  if (graph.is_graph_output(v)) return false;
  for (const ir::Node* c : graph.consumers(v)) {
    if (std::find(group.begin(), group.end(), c) == group.end()) return false;
  }
  return true;
}

ir::Node* sole_consumer(const ir::Graph& graph, const ir::Value* v) {
  if (!v || graph.is_graph_output(v)) return nullptr;
  std::vector<ir::Node*> users = graph.consumers(v);
  if (users.size() != 1) return nullptr;
  if (std::count(users[0]->inputs.begin(), users[0]->inputs.end(), v) != 1) return nullptr;
  return users[0];
}

bool used_only_by(const UseIndex& uses, const ir::Value* v,
                  const std::vector<const ir::Node*>& group) {
  if (uses.is_graph_output(v) || uses.has_more_consumers_than(v, group.size())) return false;
  for (const ir::Node* c : uses.consumers(v)) {
    if (std::find(group.begin(), group.end(), c) == group.end()) return false;
  }
  return true;
}

ir::Node* sole_consumer(const UseIndex& uses, const ir::Value* v) {
  if (!v || uses.is_graph_output(v)) return nullptr;
  ir::Node* user = uses.only_consumer(v);
  if (!user || std::count(user->inputs.begin(), user->inputs.end(), v) != 1) return nullptr;
  return user;
}

bool same_static_shape(const std::optional<ir::SymShape>& a, const std::optional<ir::SymShape>& b) {
  if (!a || !b || a->size() != b->size()) return false;
  for (size_t i = 0; i < a->size(); ++i) {
    const ir::Dim& x = (*a)[i];
    if (!x.known() && x.symbol.empty()) return false;
    if (!(x == (*b)[i])) return false;
  }
  return true;
}

std::optional<ConvShapes> sixteen_bit_nhwc_conv(const ir::Node& n) {
  if ((n.op != "Conv" && n.op != "FusedConv") || !n.domain.empty()) return std::nullopt;
  if (n.attrs.get_int(ir::kChannelsLastAttr, 0) == 0) return std::nullopt;
  if (n.attrs.get_int("group", 1) != 1 || n.attrs.get_int("transposed", 0) != 0) {
    return std::nullopt;
  }
  if (n.inputs.size() < 2 || !n.inputs[1]->is_constant()) return std::nullopt;
  const ir::Value* x = n.inputs[0];
  if (x->dtype != DataType::kFloat16 && x->dtype != DataType::kBFloat16) return std::nullopt;
  std::optional<Shape> xs = static_shape(x);
  std::optional<Shape> ws = static_shape(n.inputs[1]);
  if (!xs || !ws || xs->size() < 3 || ws->size() != xs->size() || shape_numel(*xs) == 0) {
    return std::nullopt;
  }
  return ConvShapes{*xs, *ws};
}

namespace {

// The fused node's origins: those of every matched node, each once. Hand-built graphs have no
// origins; a node's own name stands for it then.
void collect_origins(ir::Node* fused, const std::vector<ir::Node*>& matched) {
  for (const ir::Node* n : matched) {
    std::vector<std::string> origins = n->origins.empty() ? std::vector{n->name} : n->origins;
    for (const std::string& o : origins) {
      if (std::find(fused->origins.begin(), fused->origins.end(), o) == fused->origins.end())
        fused->origins.push_back(o);
    }
  }
}

// `last` stops writing its output (the fused node writes it now): it gets a fresh, unread one.
void detach_output(ir::Graph& graph, ir::Node* last) {
  ir::Value* out = last->outputs[0];
  last->outputs[0] =
      graph.add_value(graph.unique_value_name(out->name + "_unfused"), out->dtype, out->shape);
  last->outputs[0]->producer = last;
}

}  // namespace

ir::Node* replace_pattern(ir::Graph& graph, ir::Node* last, const std::vector<ir::Node*>& matched,
                          const std::string& op, std::vector<ir::Value*> inputs) {
  ir::Node* fused = graph.add_node(op, graph.unique_node_name(last->name + "_" + op),
                                   std::move(inputs), {last->outputs.at(0)});
  collect_origins(fused, matched);
  detach_output(graph, last);
  graph.remove_unused();
  graph.sort_topologically();
  return fused;
}

ir::Node* PatternRewriter::replace(ir::Node* last, const std::vector<ir::Node*>& matched,
                                   const std::string& op, std::vector<ir::Value*> inputs) {
  ir::Graph& graph = uses_.graph();
  // replace_pattern's first sweep drops every node already unused; later ones only what the
  // rewrite left unused.
  if (!replaced_) uses_.forget_dead_nodes();
  replaced_ = true;
  ir::Node* fused = uses_.add_node(op, graph.unique_node_name(last->name + "_" + op),
                                   std::move(inputs), {last->outputs.at(0)});
  collect_origins(fused, matched);
  detach_output(graph, last);
  uses_.forget_if_dead(last);
  return fused;
}

bool PatternRewriter::finish() {
  if (!replaced_) return false;
  uses_.remove_forgotten_nodes();
  uses_.graph().remove_unused();
  uses_.graph().sort_topologically();
  return true;
}

std::optional<Shape> static_shape(const ir::Value* v) {
  if (!v || !v->shape) return std::nullopt;
  Shape s;
  for (const ir::Dim& d : *v->shape) {
    if (!d.known()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

std::optional<std::vector<int64_t>> perm_of(const ir::Node* t) {
  if (t->attrs.has("perm")) return t->attrs.get_ints("perm");
  const ir::Value* x = t->inputs[0];
  if (!x->shape) return std::nullopt;
  std::vector<int64_t> p(x->shape->size());
  std::iota(p.rbegin(), p.rend(), 0);
  return p;
}

// The integer values of a constant input (int32 or int64), or nullopt.
std::optional<std::vector<int64_t>> constant_ints(const ir::Value* v) {
  if (!v || !v->is_constant()) return std::nullopt;
  const Tensor& t = *v->constant;
  std::vector<int64_t> out;
  if (t.dtype() == DataType::kInt64) {
    out.assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
  } else if (t.dtype() == DataType::kInt32) {
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.data<int32_t>()[i]);
  } else {
    return std::nullopt;
  }
  return out;
}

// Axes from the attribute (older opsets) or the second input (newer ones), normalized to `rank`.
std::optional<std::vector<int64_t>> node_axes(const ir::Node& n, size_t rank) {
  std::vector<int64_t> axes;
  if (n.attrs.has("axes")) {
    axes = n.attrs.get_ints("axes");
  } else if (n.inputs.size() > 1 && n.inputs[1]) {
    auto c = constant_ints(n.inputs[1]);
    if (!c) return std::nullopt;
    axes = *c;
  }
  for (int64_t& a : axes) {
    if (a < 0) a += static_cast<int64_t>(rank);
    if (a < 0 || a >= static_cast<int64_t>(rank)) return std::nullopt;
  }
  std::sort(axes.begin(), axes.end());
  return axes;
}

bool is_row_wise_product(const ir::Node* m) {
  if (!m || !m->domain.empty()) return false;
  if (m->op != "MatMul" && m->op != "FusedMatMul" && m->op != "Gemm") return false;
  if (m->attrs.get_int("transA", 0) != 0) return false;
  const ir::Value* b = m->input(1);
  if (!b || !b->is_constant() || !b->shape || b->shape->size() != 2) return false;
  // A residual would need the same reordering; a bias row and an activation act per row.
  return !m->input(3);
}

std::vector<ir::Node*> attention_layers(ir::Graph& graph,
                                        const std::function<bool(const ir::Node&)>& wanted) {
  std::vector<ir::Node*> layers;
  for (ir::Node* n : graph.node_list()) {
    if (n->op == "ScaledDotProductAttention" && (!wanted || wanted(*n))) layers.push_back(n);
  }
  return layers;
}

}  // namespace kiln::passes
