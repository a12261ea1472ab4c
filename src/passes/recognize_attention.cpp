// Recognizes scaled dot-product attention and replaces it by one ScaledDotProductAttention
// layer, which the backends run without materializing the score tensor:
//   Y = MatMul(Softmax(MatMul(Q, Kt) * scale [+ mask], axis=-1), V)
// The scale is a scalar constant applied with Mul (either order) or Div, or absent; the mask is
// an optional additive term that must not enlarge the scores. When Kt is a Transpose swapping
// K's last two axes (and used nowhere else) it is absorbed; otherwise Kt is passed as is with
// k_transposed=1. The head-split Reshape/Transpose around the pattern stay as they are.
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
  double scale = 1.0;
  std::vector<ir::Node*> nodes;
  ir::Node* last = nullptr;
};

// Matches `scores` = MatMul(Q, Kt) [* scale], used only by `user`; fills q, k, scale.
bool match_scores(const ir::Graph& g, ir::Value* scores, const ir::Node* user, Match& m) {
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
    if (!raw || !c || !producer_op(raw, "MatMul") || !used_only_by(g, raw, {n})) return false;
    m.scale = *c;
    m.nodes.push_back(n);
    n = raw->producer;
  }
  if (!is_op(n, "MatMul")) return false;
  m.q = n->inputs[0];
  ir::Value* kt = n->inputs[1];
  if (rank_of(m.q) < 2 || rank_of(kt) < 2) return false;
  m.k = kt;
  m.k_transposed = true;
  if (ir::Node* t = producer_op(kt, "Transpose");
      t && used_only_by(g, kt, {n}) && t->attrs.has("perm")) {
    std::vector<int64_t> perm = t->attrs.get_ints("perm");
    std::vector<int64_t> swap(perm.size());
    std::iota(swap.begin(), swap.end(), 0);
    if (swap.size() >= 2) std::swap(swap[swap.size() - 1], swap[swap.size() - 2]);
    if (perm == swap) {
      m.k = t->inputs[0];
      m.k_transposed = false;
      m.nodes.push_back(t);
    }
  }
  m.nodes.push_back(n);
  return true;
}

std::optional<Match> match_attention(const ir::Graph& g, ir::Node* softmax) {
  ir::Value* x = softmax->inputs[0];
  const int64_t rank = rank_of(x);
  if (rank < 2 || !is_float_type(x->dtype) || softmax->attrs.get_int("coerce_2d", 0) != 0)
    return std::nullopt;
  int64_t axis = softmax->attrs.get_int("axis", -1);
  if (axis != -1 && axis != rank - 1) return std::nullopt;
  ir::Node* out = sole_consumer(g, softmax->outputs[0]);
  if (!is_op(out, "MatMul") || out->inputs[0] != softmax->outputs[0]) return std::nullopt;
  Match m;
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
  bool changed = false;
  for (bool again = true; again;) {
    again = false;
    for (ir::Node* n : graph.node_list()) {
      if (!is_op(n, "Softmax")) continue;
      std::optional<Match> m = match_attention(graph, n);
      if (!m) continue;
      std::vector<ir::Value*> inputs = {m->q, m->k, m->v};
      if (m->mask) inputs.push_back(m->mask);
      ir::Node* sdpa =
          replace_pattern(graph, m->last, m->nodes, "ScaledDotProductAttention", inputs);
      sdpa->attrs.set("scale", static_cast<float>(m->scale));
      sdpa->attrs.set("k_transposed", int64_t{m->k_transposed ? 1 : 0});
      changed = again = true;
      break;  // the node list changed
    }
  }
  return changed;
}

}  // namespace kiln::passes
