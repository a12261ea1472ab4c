// Recognizes layer normalization written out as older exporters emit it and replaces it by one
// LayerNormalization layer:
//   mean = ReduceMean(x, trailing axes); xc = x - mean
//   var  = ReduceMean(xc^2)            (Pow(xc, 2) or xc * xc)
//   y    = xc / Sqrt(var + eps)        (or xc * Reciprocal(Sqrt(..)), xc * (1 / Sqrt(..)),
//                                       xc * Pow(var + eps, -0.5))
//   out  = y * gamma + beta            (both optional, either operand order)
// gamma and beta must broadcast over the normalized axes only. Every intermediate must be used
// only inside the pattern.
#include <algorithm>

#include "core/float_types.hpp"
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"

namespace kiln::passes {
namespace {

bool is_op(const ir::Node* n, const char* op) {
  return n && n->op == op && n->domain.empty();
}

// The number of trailing axes a keepdims ReduceMean reduces over, or 0 when it reduces anything
// else (or its axes or rank are unknown).
int64_t trailing_axes(const ir::Node* n) {
  const ir::Value* x = n->inputs[0];
  if (!x->shape || n->attrs.get_int("keepdims", 1) == 0) return 0;
  const auto rank = static_cast<int64_t>(x->shape->size());
  std::optional<std::vector<int64_t>> found = node_axes(*n, x->shape->size());
  if (!found || found->empty() || static_cast<int64_t>(found->size()) > rank) return 0;
  const std::vector<int64_t>& axes = *found;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != rank - static_cast<int64_t>(axes.size() - i)) return 0;
  }
  return static_cast<int64_t>(axes.size());
}

bool same_axes(const ir::Node* a, const ir::Node* b) {
  return trailing_axes(a) == trailing_axes(b);
}

// `v` (gamma or beta) broadcasts over the last `k` axes only and has the input's type.
bool is_affine_param(const ir::Value* v, int64_t k, DataType dtype) {
  return v->dtype == dtype && v->shape && static_cast<int64_t>(v->shape->size()) <= k;
}

struct Match {
  ir::Value* x = nullptr;
  ir::Value* gamma = nullptr;
  ir::Value* beta = nullptr;
  float epsilon = 0;
  int64_t axes = 0;
  std::vector<ir::Node*> nodes;
  ir::Node* last = nullptr;
};

// From sd = Sqrt(var + eps): the node computing xc / sd.
ir::Node* match_normalize(const UseIndex& g, ir::Node* sd, ir::Value* xc, Match& m) {
  ir::Node* n = sole_consumer(g, sd->outputs[0]);
  if (is_op(n, "Div") && n->inputs[0] == xc && n->inputs[1] == sd->outputs[0]) return n;
  // xc * (1 / sd)
  if (!(is_op(n, "Reciprocal") ||
        (is_op(n, "Div") && is_scalar(n->inputs[0], 1.0) && n->inputs[1] == sd->outputs[0])))
    return nullptr;
  ir::Node* mul = sole_consumer(g, n->outputs[0]);
  if (!is_op(mul, "Mul") || other_input(mul, n->outputs[0]) != xc) return nullptr;
  m.nodes.push_back(n);
  return mul;
}

std::optional<Match> match_layernorm(const UseIndex& g, ir::Node* mean) {
  Match m;
  m.x = mean->inputs[0];
  m.axes = trailing_axes(mean);
  if (m.axes == 0 || !is_float_type(m.x->dtype)) return std::nullopt;
  ir::Node* sub = sole_consumer(g, mean->outputs[0]);
  if (!is_op(sub, "Sub") || sub->inputs[0] != m.x || sub->inputs[1] != mean->outputs[0])
    return std::nullopt;
  ir::Value* xc = sub->outputs[0];
  if (g.is_graph_output(xc)) return std::nullopt;
  std::vector<ir::Node*> users = g.consumers(xc);
  if (users.size() != 2) return std::nullopt;
  ir::Node* square = nullptr;
  for (ir::Node* u : users) {
    if ((is_op(u, "Pow") && u->inputs[0] == xc && is_scalar(u->inputs[1], 2.0)) ||
        (is_op(u, "Mul") && u->inputs[0] == xc && u->inputs[1] == xc))
      square = u;
  }
  if (!square) return std::nullopt;
  ir::Node* var = sole_consumer(g, square->outputs[0]);
  if (!is_op(var, "ReduceMean") || !same_axes(var, mean)) return std::nullopt;
  ir::Node* add_eps = sole_consumer(g, var->outputs[0]);
  if (!is_op(add_eps, "Add")) return std::nullopt;
  std::optional<double> eps = scalar_constant(other_input(add_eps, var->outputs[0]));
  if (!eps || *eps < 0) return std::nullopt;
  m.epsilon = static_cast<float>(*eps);
  ir::Node* sd = sole_consumer(g, add_eps->outputs[0]);
  ir::Node* y = nullptr;
  m.nodes = {mean, sub, square, var, add_eps};
  if (is_op(sd, "Sqrt")) {
    m.nodes.push_back(sd);
    y = match_normalize(g, sd, xc, m);
  } else if (is_op(sd, "Pow") && is_scalar(sd->inputs[1], -0.5)) {  // rsqrt
    m.nodes.push_back(sd);
    y = sole_consumer(g, sd->outputs[0]);
    if (!is_op(y, "Mul") || other_input(y, sd->outputs[0]) != xc) y = nullptr;
  }
  if (!y || std::find(users.begin(), users.end(), y) == users.end()) return std::nullopt;
  m.nodes.push_back(y);
  m.last = y;
  // Optional affine: y * gamma, then + beta.
  ir::Node* next = sole_consumer(g, y->outputs[0]);
  if (is_op(next, "Mul")) {
    ir::Value* gamma = other_input(next, y->outputs[0]);
    if (gamma && is_affine_param(gamma, m.axes, m.x->dtype) &&
        same_static_shape(next->outputs[0]->shape, m.x->shape)) {
      m.gamma = gamma;
      m.nodes.push_back(next);
      m.last = next;
      next = sole_consumer(g, next->outputs[0]);
    }
  }
  if (is_op(next, "Add")) {
    ir::Value* beta = other_input(next, m.last->outputs[0]);
    if (beta && is_affine_param(beta, m.axes, m.x->dtype) &&
        same_static_shape(next->outputs[0]->shape, m.x->shape)) {
      m.beta = beta;
      m.nodes.push_back(next);
      m.last = next;
    }
  }
  return m;
}

Tensor ones(DataType dtype) {
  Tensor t(dtype, {1});
  if (dtype == DataType::kFloat32) {
    t.data<float>()[0] = 1.0f;
  } else if (dtype == DataType::kFloat64) {
    t.data<double>()[0] = 1.0;
  } else if (dtype == DataType::kFloat16) {
    t.data<Half>()[0] = Half(1.0f);
  } else {
    t.data<BFloat16>()[0] = BFloat16(1.0f);
  }
  return t;
}

}  // namespace

bool recognize_layernorm(ir::Graph& graph) {
  PatternRewriter rewriter(graph);
  for (bool again = true; again;) {
    again = false;
    for (ir::Node* n : graph.node_list()) {
      if (rewriter.gone(n) || !is_op(n, "ReduceMean")) continue;
      std::optional<Match> m = match_layernorm(rewriter.uses(), n);
      if (!m) continue;
      ir::Value* gamma = m->gamma;
      if (!gamma)
        gamma = graph.add_constant(graph.unique_value_name(n->name + "_ones"), ones(m->x->dtype));
      std::vector<ir::Value*> inputs = {m->x, gamma};
      if (m->beta) inputs.push_back(m->beta);
      ir::Node* ln = rewriter.replace(m->last, m->nodes, "LayerNormalization", inputs);
      ln->attrs.set("axis", -m->axes);
      ln->attrs.set("epsilon", m->epsilon);
      again = true;
    }
  }
  return rewriter.finish();
}

}  // namespace kiln::passes
