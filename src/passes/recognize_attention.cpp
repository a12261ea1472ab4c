// Recognizes scaled dot-product attention and replaces it by one ScaledDotProductAttention
// layer, which the backends run without materializing the score tensor:
//   Y = MatMul(Guard(Softmax(MatMul(Q * a, Kt * b) * c [+ mask], axis=-1)), V)
// Each of a, b, c is an optional scalar constant (Mul in either order, or Div for c); the
// attention scale is their product (PyTorch's exporters split sqrt(scale) across Q and K). The
// mask is an optional additive term that must not enlarge the scores. Guard is the optional
// Where(IsNaN(P), 0, P) that F.scaled_dot_product_attention's exports add so that fully-masked
// rows give 0 instead of NaN; it becomes zero_nan_rows=1. When Kt is a Transpose swapping K's
// last two axes (possibly between Reshapes that only regroup the batch axes, as the dynamo
// export writes it) it is absorbed; otherwise Kt is passed as is with k_transposed=1. The
// head-split Reshape/Transpose around the pattern stay as they are.
#include <numeric>

#include "passes/passes.hpp"
#include "passes/pattern.hpp"

namespace kiln::passes {
namespace {

bool is_op(const ir::Node* n, const char* op) {
  return n && n->op == op && n->domain.empty();
}

int64_t rank_of(const ir::Value* v) {
  return v && v->shape ? static_cast<int64_t>(v->shape->size()) : -1;
}

struct Match {
  ir::Value* q = nullptr;
  ir::Value* k = nullptr;
  ir::Value* v = nullptr;
  ir::Value* mask = nullptr;
  bool k_transposed = true;
  bool zero_nan_rows = false;
  double scale = 1.0;
  std::vector<ir::Node*> nodes;
  ir::Node* last = nullptr;
};

// For `x` = Mul(y, c) or Mul(c, y) with a scalar constant c, used only by `user`, and not
// broadcasting y to a larger shape: y, with c multiplied into m.scale. Otherwise `x` itself.
ir::Value* strip_scalar_mul(const UseIndex& g, ir::Value* x, const ir::Node* user, Match& m) {
  ir::Node* n = producer_op(x, "Mul");
  if (!n || n->inputs.size() != 2 || !used_only_by(g, x, {user})) return x;
  for (size_t i = 0; i < 2; ++i) {
    ir::Value* y = n->inputs[i];
    std::optional<double> c = scalar_constant(n->inputs[1 - i]);
    if (c && !scalar_constant(y) && y->dtype == x->dtype && same_static_shape(y->shape, x->shape)) {
      m.scale *= *c;
      m.nodes.push_back(n);
      return y;
    }
  }
  return x;
}

bool same_dims(const std::optional<ir::SymShape>& a, size_t a_from,
               const std::optional<ir::SymShape>& b, size_t b_from, size_t count) {
  if (!a || !b || a->size() < a_from + count || b->size() < b_from + count) return false;
  ir::SymShape x(a->begin() + static_cast<ptrdiff_t>(a_from),
                 a->begin() + static_cast<ptrdiff_t>(a_from + count));
  ir::SymShape y(b->begin() + static_cast<ptrdiff_t>(b_from),
                 b->begin() + static_cast<ptrdiff_t>(b_from + count));
  return same_static_shape(x, y);
}

bool swaps_last_two(const ir::Node* t) {
  if (!t->attrs.has("perm")) return false;
  std::vector<int64_t> perm = t->attrs.get_ints("perm");
  std::vector<int64_t> swap(perm.size());
  std::iota(swap.begin(), swap.end(), 0);
  if (swap.size() < 2) return false;
  std::swap(swap[swap.size() - 1], swap[swap.size() - 2]);
  return perm == swap;
}

// When `kt` (read only by `user`) is K with its last two axes swapped, either by one Transpose or
// by Reshape -> Transpose -> Reshape where the Reshapes only regroup the axes before the last two:
// K, with the absorbed nodes added to m.nodes. Otherwise nullptr.
ir::Value* untransposed_key(const UseIndex& g, ir::Value* kt, const ir::Node* user, Match& m) {
  if (!used_only_by(g, kt, {user})) return nullptr;
  if (ir::Node* t = producer_op(kt, "Transpose"); t && swaps_last_two(t)) {
    m.nodes.push_back(t);
    return t->inputs[0];
  }
  ir::Node* r2 = producer_op(kt, "Reshape");
  ir::Node* t = r2 ? producer_op(r2->inputs[0], "Transpose") : nullptr;
  ir::Node* r1 = t ? producer_op(t->inputs[0], "Reshape") : nullptr;
  if (!r1 || !swaps_last_two(t) || !used_only_by(g, r2->inputs[0], {r2}) ||
      !used_only_by(g, t->inputs[0], {t}))
    return nullptr;
  ir::Value* k = r1->inputs[0];
  const int64_t rank = rank_of(k);
  const int64_t mid = rank_of(t->inputs[0]);
  if (rank < 2 || mid < 2 || rank_of(kt) != rank) return nullptr;
  const auto r = static_cast<size_t>(rank), n = static_cast<size_t>(mid);
  // [L.., S, D] -> [N.., S, D] -> [N.., D, S] -> [L.., D, S]: each [S, D] matrix keeps its place.
  if (!same_dims(k->shape, r - 2, t->inputs[0]->shape, n - 2, 2) ||
      !same_dims(k->shape, 0, kt->shape, 0, r - 2) ||
      !same_dims(k->shape, r - 1, kt->shape, r - 2, 1) ||
      !same_dims(k->shape, r - 2, kt->shape, r - 1, 1))
    return nullptr;
  m.nodes.insert(m.nodes.end(), {r2, t, r1});
  return k;
}

// Matches `scores` = MatMul(Q [* a], Kt [* b]) [* c], used only by `user`; fills q, k, scale.
bool match_scores(const UseIndex& g, ir::Value* scores, const ir::Node* user, Match& m) {
  if (!used_only_by(g, scores, {user})) return false;
  ir::Node* n = scores->producer;
  if (is_op(n, "Mul") || is_op(n, "Div")) {
    ir::Value* raw = nullptr;
    std::optional<double> c;
    if (is_op(n, "Div")) {
      raw = n->inputs[0];
      c = scalar_constant(n->inputs[1]);
      if (c && *c != 0) c = 1.0 / *c;
    } else {
      for (ir::Value* in : n->inputs) {
        if (auto s = scalar_constant(other_input(n, in)); s && producer_op(in, "MatMul")) {
          raw = in;
          c = s;
        }
      }
    }
    if (!raw || !c || !producer_op(raw, "MatMul") || !used_only_by(g, raw, {n}) ||
        !same_static_shape(raw->shape, scores->shape))
      return false;
    m.scale *= *c;
    m.nodes.push_back(n);
    n = raw->producer;
  }
  if (!is_op(n, "MatMul")) return false;
  // The same value as both operands (Q = K) would be read through two different paths.
  if (n->inputs[0] == n->inputs[1]) return false;
  m.q = strip_scalar_mul(g, n->inputs[0], n, m);
  ir::Value* kt = strip_scalar_mul(g, n->inputs[1], n, m);
  if (rank_of(m.q) < 2 || rank_of(kt) < 2) return false;
  // Kt's reader: the MatMul, or the Mul stripped from it.
  const ir::Node* kt_user = kt == n->inputs[1] ? n : n->inputs[1]->producer;
  if (ir::Value* k = untransposed_key(g, kt, kt_user, m)) {
    m.k = k;
    m.k_transposed = false;
  } else {
    m.k = kt;
    m.k_transposed = true;
  }
  m.nodes.push_back(n);
  return true;
}

// For the Softmax output `p`: the MatMul reading it (directly, or through the NaN guard
// Where(IsNaN(p), 0, p)), or nullptr.
ir::Node* probabilities_reader(const UseIndex& g, ir::Value* p, Match& m) {
  ir::Node* direct = sole_consumer(g, p);
  if (is_op(direct, "MatMul")) return direct->inputs[0] == p ? direct : nullptr;
  std::vector<ir::Node*> users = g.consumers(p);
  if (g.is_graph_output(p) || users.size() != 2) return nullptr;
  ir::Node* isnan = is_op(users[0], "IsNaN") ? users[0] : users[1];
  ir::Node* where = isnan == users[0] ? users[1] : users[0];
  if (!is_op(isnan, "IsNaN") || !is_op(where, "Where") || where->inputs.size() != 3) return nullptr;
  if (sole_consumer(g, isnan->outputs[0]) != where || where->inputs[0] != isnan->outputs[0] ||
      where->inputs[2] != p || !is_scalar(where->inputs[1], 0.0) ||
      where->inputs[1]->dtype != p->dtype || !same_static_shape(where->outputs[0]->shape, p->shape))
    return nullptr;
  ir::Node* out = sole_consumer(g, where->outputs[0]);
  if (!is_op(out, "MatMul") || out->inputs[0] != where->outputs[0]) return nullptr;
  m.zero_nan_rows = true;
  m.nodes.insert(m.nodes.end(), {isnan, where});
  return out;
}

std::optional<Match> match_attention(const UseIndex& g, ir::Node* softmax) {
  ir::Value* x = softmax->inputs[0];
  const int64_t rank = rank_of(x);
  if (rank < 2 || !is_float_type(x->dtype) || softmax->attrs.get_int("coerce_2d", 0) != 0)
    return std::nullopt;
  int64_t axis = softmax->attrs.get_int("axis", -1);
  if (axis != -1 && axis != rank - 1) return std::nullopt;
  Match m;
  ir::Node* out = probabilities_reader(g, softmax->outputs[0], m);
  if (!out) return std::nullopt;
  m.v = out->inputs[1];
  if (rank_of(m.v) < 2) return std::nullopt;
  ir::Node* add = x->producer;
  bool matched = false;
  if (is_op(add, "Add") && used_only_by(g, x, {softmax})) {
    for (size_t i = 0; i < 2 && !matched; ++i) {
      Match attempt = m;
      ir::Value* scores = add->inputs[i];
      ir::Value* mask = add->inputs[1 - i];
      if (!match_scores(g, scores, add, attempt)) continue;
      // The mask must not enlarge the scores, and must not be computed from them.
      if (!same_static_shape(x->shape, scores->shape) || mask->dtype != x->dtype) continue;
      attempt.mask = mask;
      attempt.nodes.push_back(add);
      m = attempt;
      matched = true;
    }
  }
  if (!matched && !match_scores(g, x, softmax, m)) return std::nullopt;
  m.nodes.insert(m.nodes.end(), {softmax, out});
  m.last = out;
  return m;
}

}  // namespace

bool recognize_attention(ir::Graph& graph) {
  PatternRewriter rewriter(graph);
  for (bool again = true; again;) {
    again = false;
    for (ir::Node* n : graph.node_list()) {
      if (rewriter.gone(n) || !is_op(n, "Softmax")) continue;
      std::optional<Match> m = match_attention(rewriter.uses(), n);
      if (!m) continue;
      std::vector<ir::Value*> inputs = {m->q, m->k, m->v};
      if (m->mask) inputs.push_back(m->mask);
      ir::Node* sdpa = rewriter.replace(m->last, m->nodes, "ScaledDotProductAttention", inputs);
      sdpa->attrs.set("scale", static_cast<float>(m->scale));
      sdpa->attrs.set("k_transposed", int64_t{m->k_transposed ? 1 : 0});
      if (m->zero_nan_rows) sdpa->attrs.set("zero_nan_rows", int64_t{1});
      again = true;
    }
  }
  return rewriter.finish();
}

}  // namespace kiln::passes
