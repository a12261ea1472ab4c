// Recognizes GELU written out elementwise, as exporters without a Gelu op emit it, and replaces
// it by one Gelu layer:
//   erf form   0.5 * x * (1 + erf(x / sqrt(2)))                         -> Gelu(approximate=none)
//   tanh form  0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))  -> Gelu(approximate=tanh)
// in the operand orders exporters produce: x / sqrt(2) or x * (1/sqrt(2)); the 0.5 applied to x,
// to (1 + ...), or to the product; x^3 as Pow(x, 3) or x * x * x. Every intermediate must be used
// only inside the pattern.
#include "ir/activation_math.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"

namespace kiln::passes {
namespace {

struct Match {
  ir::Value* x = nullptr;
  std::vector<ir::Node*> nodes;
  ir::Node* last = nullptr;
};

bool is_op(const ir::Node* n, const char* op) {
  return n && n->op == op && n->domain.empty();
}

// n computes v * c (Mul, either order) or v / (1/c) (Div).
bool scales_by(const ir::Node* n, const ir::Value* v, double c) {
  if (is_op(n, "Mul")) return is_scalar(other_input(n, v), c);
  if (is_op(n, "Div")) return n->inputs[0] == v && is_scalar(n->inputs[1], 1.0 / c);
  return false;
}

// The single consumer of `n`'s output, if any.
ir::Node* next(const UseIndex& g, const ir::Node* n) {
  return sole_consumer(g, n->outputs[0]);
}

// Matches the outer 0.5 * x * p, given p = 1 + f(x) produced by `add`. Appends the matched nodes.
bool match_outer(const UseIndex& g, ir::Node* add, ir::Value* x, Match& m) {
  ir::Value* p = add->outputs[0];
  ir::Node* m1 = next(g, add);
  if (!m1) return false;
  if (scales_by(m1, p, 0.5)) {  // x * (0.5 * p)
    ir::Node* m2 = next(g, m1);
    if (!is_op(m2, "Mul") || other_input(m2, m1->outputs[0]) != x) return false;
    m.nodes.insert(m.nodes.end(), {m1, m2});
    m.last = m2;
    return true;
  }
  if (!is_op(m1, "Mul")) return false;
  ir::Value* o = other_input(m1, p);
  if (o == x) {  // (x * p) * 0.5
    ir::Node* m2 = next(g, m1);
    if (!scales_by(m2, m1->outputs[0], 0.5)) return false;
    m.nodes.insert(m.nodes.end(), {m1, m2});
    m.last = m2;
    return true;
  }
  ir::Node* h = o ? o->producer : nullptr;  // (0.5 * x) * p
  if (!h || !scales_by(h, x, 0.5) || !used_only_by(g, o, {m1})) return false;
  m.nodes.insert(m.nodes.end(), {h, m1});
  m.last = m1;
  return true;
}

// p = 1 + e, either order, as Add or a two-input Sum (ONNX's own Gelu function body); returns it.
ir::Node* one_plus(const UseIndex& g, const ir::Node* e) {
  ir::Node* add = next(g, e);
  if (!(is_op(add, "Add") || is_op(add, "Sum")) || !is_scalar(other_input(add, e->outputs[0]), 1.0))
    return nullptr;
  return add;
}

std::optional<Match> match_erf(const UseIndex& g, ir::Node* erf) {
  ir::Node* u = erf->inputs[0]->producer;
  if (!u || !used_only_by(g, erf->inputs[0], {erf})) return std::nullopt;
  Match m;
  if (is_op(u, "Div") && is_scalar(u->inputs[1], 1 / ir::kInvSqrt2)) {
    m.x = u->inputs[0];
  } else if (is_op(u, "Mul")) {
    for (ir::Value* in : u->inputs) {
      if (is_scalar(other_input(u, in), ir::kInvSqrt2)) m.x = in;
    }
  }
  if (!m.x) return std::nullopt;
  ir::Node* add = one_plus(g, erf);
  if (!add) return std::nullopt;
  m.nodes = {u, erf, add};
  if (!match_outer(g, add, m.x, m)) return std::nullopt;
  return m;
}

// v == x * x * x (Pow(x, 3), or two Muls in either association); appends the nodes.
bool is_cube(const UseIndex& g, ir::Value* v, ir::Value* x, std::vector<ir::Node*>& nodes) {
  ir::Node* n = v->producer;
  if (is_op(n, "Pow") && n->inputs[0] == x && is_scalar(n->inputs[1], 3.0)) {
    nodes.push_back(n);
    return true;
  }
  if (!is_op(n, "Mul")) return false;
  for (int k = 0; k < 2; ++k) {
    ir::Value* sq = n->inputs[static_cast<size_t>(k)];
    ir::Node* s = sq->producer;
    if (n->inputs[static_cast<size_t>(1 - k)] == x && is_op(s, "Mul") && s->inputs[0] == x &&
        s->inputs[1] == x && used_only_by(g, sq, {n})) {
      nodes.insert(nodes.end(), {s, n});
      return true;
    }
  }
  return false;
}

std::optional<Match> match_tanh(const UseIndex& g, ir::Node* tanh) {
  const double k = ir::kSqrt2OverPi;
  ir::Node* w = tanh->inputs[0]->producer;  // k * z
  if (!is_op(w, "Mul") || !used_only_by(g, tanh->inputs[0], {tanh})) return std::nullopt;
  ir::Value* z = nullptr;
  for (ir::Value* in : w->inputs) {
    if (is_scalar(other_input(w, in), k, 1e-4)) z = in;
  }
  ir::Node* add = z ? z->producer : nullptr;  // x + c * x^3
  if (!is_op(add, "Add") || !used_only_by(g, z, {w})) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    Match m;
    m.x = add->inputs[static_cast<size_t>(i)];
    ir::Value* c3 = add->inputs[static_cast<size_t>(1 - i)];
    ir::Node* scale = c3->producer;
    if (!is_op(scale, "Mul") || !used_only_by(g, c3, {add})) continue;
    for (ir::Value* cube : scale->inputs) {
      if (!is_scalar(other_input(scale, cube), ir::kGeluCubic, 1e-4)) continue;
      std::vector<ir::Node*> nodes;
      if (!used_only_by(g, cube, {scale}) || !is_cube(g, cube, m.x, nodes)) continue;
      ir::Node* plus = one_plus(g, tanh);
      if (!plus) return std::nullopt;
      m.nodes = nodes;
      m.nodes.insert(m.nodes.end(), {scale, add, w, tanh, plus});
      if (match_outer(g, plus, m.x, m)) return m;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

bool recognize_gelu(ir::Graph& graph) {
  PatternRewriter rewriter(graph);
  for (bool again = true; again;) {
    again = false;
    for (ir::Node* n : graph.node_list()) {
      if (rewriter.gone(n)) continue;
      std::optional<Match> m;
      if (is_op(n, "Erf")) m = match_erf(rewriter.uses(), n);
      if (is_op(n, "Tanh")) m = match_tanh(rewriter.uses(), n);
      if (!m || !is_float_type(m->x->dtype)) continue;
      std::string approximate = is_op(n, "Erf") ? "none" : "tanh";
      ir::Node* gelu = rewriter.replace(m->last, m->nodes, "Gelu", {m->x});
      gelu->attrs.set("approximate", approximate);
      again = true;
    }
  }
  return rewriter.finish();
}

}  // namespace kiln::passes
