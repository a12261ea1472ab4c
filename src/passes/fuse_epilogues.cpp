// Fuses a Conv/ConvTranspose/Gemm/MatMul with the elementwise work after it into one layer
// (FusedConv, FusedMatMul): a constant bias Add, a residual Add of a same-shaped tensor, and one
// activation (Relu, LeakyRelu, Clip/Relu6, Sigmoid, SiLU = x * Sigmoid(x), Gelu, HardSwish,
// HardSigmoid, Tanh, Elu), in the orders act(y + b + z) and act(y + b) + z. Only a value read by
// the next step alone is swallowed; the residual may be read elsewhere, as it is only an input.
#include <algorithm>
#include <unordered_set>

#include "ir/activation.hpp"
#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"
#include "passes/linear_layer.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

bool is_anchor(const ir::Node& n) {
  static const std::unordered_set<std::string> kOps = {"Conv",   "ConvTranspose", "Gemm",
                                                       "MatMul", "FusedConv",     "FusedMatMul"};
  return n.domain.empty() && kOps.count(n.op) && n.output(0) && n.input(0) && n.input(1) &&
         is_foldable_float(n.output(0)->dtype);
}

size_t rank_of(const ir::Value* v) {
  return v && v->shape ? v->shape->size() : 0;
}

// Same shape, provably: every dim known and equal, or unknown with the same symbol.
bool same_shape(const ir::Value* a, const ir::Value* b) {
  if (!a->shape || !b->shape || a->shape->size() != b->shape->size()) return false;
  for (size_t i = 0; i < a->shape->size(); ++i) {
    const ir::Dim& x = (*a->shape)[i];
    const ir::Dim& y = (*b->shape)[i];
    bool equal = x.known() ? x.value == y.value : (!x.symbol.empty() && x.symbol == y.symbol);
    if (!equal) return false;
  }
  return true;
}

// Turns the anchor into its fused op (no-op when it already is one). False, unchanged, when the
// layer cannot be expressed as one.
bool make_fused(UseIndex& uses, ir::Node* n) {
  if (n->op == "FusedConv" || n->op == "FusedMatMul") return true;
  if (n->op == "Conv" || n->op == "ConvTranspose") {
    n->attrs.set("transposed", int64_t{n->op == "ConvTranspose" ? 1 : 0});
    n->op = "FusedConv";
  } else if (n->op == "MatMul") {
    if (rank_of(n->input(0)) < 2 || rank_of(n->input(1)) < 2) return false;
    n->op = "FusedMatMul";
  } else if (n->op == "Gemm") {
    float beta = n->attrs.get_float("beta", 1.0f);
    ir::Value* c = n->input(2);
    if (c && beta != 1.0f) {
      // FusedMatMul has no beta: it goes into a constant C.
      if (!c->is_constant() || !is_foldable_float(c->dtype)) return false;
      std::vector<double> v = to_doubles(*c->constant);
      for (double& x : v) x *= beta;
      ir::Graph& graph = uses.graph();
      uses.set_input(n, 2,
                     graph.add_constant(graph.unique_value_name(n->name + "_bias_folded"),
                                        from_doubles(c->dtype, c->constant->shape(), v)));
    }
    n->attrs.erase("beta");
    n->op = "FusedMatMul";
  } else {
    return false;
  }
  n->attrs.set_owner(n->describe());
  return true;
}

struct Chain {
  UseIndex& uses;
  ir::Node* anchor;
  ir::Activation act;
  bool has_residual = false;
  bool changed = false;

  ir::Value* out() const { return anchor->outputs[0]; }

  // The anchor now also computes `last`'s output; the nodes in `nodes` are gone.
  void absorb(std::initializer_list<ir::Node*> nodes, ir::Node* last) {
    for (ir::Node* n : nodes) merge_origins(anchor, n);
    ir::Value* v = last->outputs[0];
    for (ir::Node* n : nodes) uses.remove_node(n);
    anchor->outputs[0] = v;
    v->producer = anchor;
    changed = true;
  }

  // One more step of the epilogue; false when the chain ends here.
  bool extend() {
    ir::Value* y = out();
    if (uses.is_graph_output(y) || uses.has_more_consumers_than(y, 2)) return false;
    std::vector<ir::Node*> users = uses.consumers(y);
    bool act_allowed = act.kind == ir::ActivationKind::kNone &&
                       (!has_residual || anchor->attrs.get_int("residual_before_activation", 1));
    if (users.size() == 2 && act_allowed && try_silu(y, users)) return true;
    if (users.size() != 1) return false;
    ir::Node* next = users[0];
    if (!next->domain.empty() || std::count(next->inputs.begin(), next->inputs.end(), y) != 1 ||
        !next->output(0))
      return false;
    if (next->op == "Add" && next->inputs.size() == 2) {
      ir::Value* other = next->inputs[0] == y ? next->inputs[1] : next->inputs[0];
      if (!other) return false;
      if (other->is_constant() && act.kind == ir::ActivationKind::kNone && !has_residual) {
        auto layer = as_linear_layer(anchor);
        if (layer && add_to_output(uses, *layer, *other->constant)) {
          absorb({next}, next);
          return true;
        }
      }
      if (has_residual || other->dtype != y->dtype || !same_shape(other, y)) return false;
      bool before = act.kind == ir::ActivationKind::kNone;
      if (!make_fused(uses, anchor)) return false;
      uses.set_input(anchor, 3, other);
      anchor->attrs.set("residual_before_activation", int64_t{before ? 1 : 0});
      has_residual = true;
      absorb({next}, next);
      return true;
    }
    auto a = ir::activation_of_node(*next);
    if (!a || !act_allowed || next->input(0) != y || !make_fused(uses, anchor)) return false;
    act = *a;
    ir::write_activation(anchor->attrs, act);
    absorb({next}, next);
    return true;
  }

  // y * Sigmoid(y), with the Sigmoid read by the Mul alone.
  bool try_silu(ir::Value* y, const std::vector<ir::Node*>& users) {
    ir::Node* sig = users[0]->op == "Sigmoid" ? users[0] : users[1];
    ir::Node* mul = sig == users[0] ? users[1] : users[0];
    if (sig->op != "Sigmoid" || mul->op != "Mul" || !sig->domain.empty() || !mul->domain.empty() ||
        sig->input(0) != y || mul->inputs.size() != 2 || !mul->output(0))
      return false;
    ir::Value* s = sig->output(0);
    bool operands = (mul->inputs[0] == y && mul->inputs[1] == s) ||
                    (mul->inputs[1] == y && mul->inputs[0] == s);
    if (!operands || !only_used_by(uses, s, mul) || !make_fused(uses, anchor)) return false;
    act = {ir::ActivationKind::kSilu, 0.0f, 0.0f};
    ir::write_activation(anchor->attrs, act);
    absorb({sig, mul}, mul);
    return true;
  }
};

}  // namespace

bool fuse_epilogues(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* n : graph.node_list()) {
    if (uses.forgotten(n) || !is_anchor(*n)) continue;
    Chain chain{uses, n, {}};
    if (n->op == "FusedConv" || n->op == "FusedMatMul") {
      chain.act = ir::read_activation(n->attrs);
      chain.has_residual = n->input(3) != nullptr;
    }
    while (chain.extend()) {
    }
    changed |= chain.changed;
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    graph.remove_unused();
    graph.sort_topologically();  // a residual may be computed after the layer it now feeds
  }
  return changed;
}

bool fuse_residual_through_reshape(ir::Graph& graph) {
  UseIndex uses(graph);
  bool changed = false;
  for (ir::Node* m : graph.node_list()) {
    if (uses.forgotten(m) || !m->domain.empty() ||
        (m->op != "MatMul" && m->op != "Gemm" && m->op != "FusedMatMul"))
      continue;
    if (!is_anchor(*m) || m->input(3) ||
        ir::read_activation(m->attrs).kind != ir::ActivationKind::kNone)
      continue;
    ir::Value* y = m->outputs[0];
    ir::Node* r = sole_consumer(uses, y);
    if (!r || r->op != "Reshape" || !r->domain.empty() || r->inputs[0] != y) continue;
    ir::Node* add = sole_consumer(uses, r->outputs[0]);
    if (!add || add->op != "Add" || !add->domain.empty() || add->inputs.size() != 2) continue;
    ir::Value* z = r->outputs[0];
    ir::Value* other = add->inputs[0] == z ? add->inputs[1] : add->inputs[0];
    std::optional<Shape> ys = static_shape(y), zs = static_shape(z);
    if (!other || other == z || other->dtype != y->dtype || !ys || !zs ||
        static_shape(other) != zs || shape_numel(*ys) != shape_numel(*zs))
      continue;
    // (The product and the Reshape each have one reader, so the residual cannot depend on them.)
    if (!make_fused(uses, m)) continue;
    // The residual read in the product's shape: a view of it.
    std::vector<int64_t> dims(ys->begin(), ys->end());
    ir::Value* as_rows = graph.add_value(graph.unique_value_name(other->name + "_as_rows"),
                                         other->dtype, ir::to_sym_shape(*ys));
    ir::Node* view = uses.add_node(
        "Reshape", graph.unique_node_name(other->name + "_as_rows"),
        {other, add_int64_constant(graph, other->name + "_rows_shape", dims)}, {as_rows});
    copy_layer_precision(*add, *view);
    uses.set_input(m, 3, as_rows);
    m->attrs.set("residual_before_activation", int64_t{1});
    merge_origins(m, add);
    // The Reshape now carries the sum out: it takes over the Add's output.
    ir::Value* sum = add->outputs[0];
    uses.remove_node(add);
    r->outputs[0] = sum;
    sum->producer = r;
    changed = true;
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    tidy_after_rewrite(graph);
  }
  return changed;
}

}  // namespace kiln::passes
