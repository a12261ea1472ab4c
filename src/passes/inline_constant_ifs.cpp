// Inlines If layers whose condition is a constant: the taken branch's nodes join the graph (its
// inputs wired to the captured values, its constants copied), and the If's outputs become the
// branch's results. Exports often guard on flags that constant folding settles (an is_training
// or a shape check); after inlining, every other pass sees through the branch.
#include <unordered_map>

#include "core/error.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"

namespace kiln::passes {
namespace {

std::optional<bool> constant_condition(const ir::Node& n) {
  const ir::Value* c = n.input(0);
  if (!c || !c->constant || c->dtype != DataType::kBool || c->constant->numel() != 1) {
    return std::nullopt;
  }
  return *c->constant->data<uint8_t>() != 0;
}

// Copies the branch into `g`; returns the values standing for the branch's outputs, or an empty
// vector (graph untouched) when the branch does not fit the node.
std::vector<ir::Value*> inline_branch(UseIndex& uses, ir::Node& n, const ir::Graph& branch) {
  ir::Graph& g = uses.graph();
  if (branch.inputs().size() + 1 != n.inputs.size() ||
      branch.outputs().size() != n.outputs.size()) {
    return {};
  }
  const std::string prefix = n.name.empty() ? std::string("if") : n.name;
  std::unordered_map<const ir::Value*, ir::Value*> map;
  for (size_t i = 0; i < branch.inputs().size(); ++i) map[branch.inputs()[i]] = n.inputs[i + 1];
  auto mapped = [&](const ir::Value* v) -> ir::Value* {
    if (!v) return nullptr;
    if (auto it = map.find(v); it != map.end()) return it->second;
    if (!v->is_constant()) {
      fail(ErrorCode::kInternal, n.describe(), ": branch value '", v->name,
           "' is neither an input, a constant nor produced in the branch");
    }
    ir::Value* k = g.add_constant(g.unique_value_name(prefix + "/" + v->name), *v->constant);
    map[v] = k;
    return k;
  };
  for (const auto& bn : branch.nodes()) {
    std::vector<ir::Value*> ins, outs;
    for (const ir::Value* v : bn->inputs) ins.push_back(mapped(v));
    for (const ir::Value* v : bn->outputs) {
      ir::Value* o = nullptr;
      if (v) {
        o = g.add_value(g.unique_value_name(prefix + "/" + v->name), v->dtype, v->shape);
        map[v] = o;
      }
      outs.push_back(o);
    }
    ir::Node* m = uses.add_node(bn->op, g.unique_node_name(prefix + "/" + bn->name), ins, outs);
    m->domain = bn->domain;
    m->attrs = bn->attrs;
    m->origins = bn->origins.empty() ? std::vector<std::string>{bn->name} : bn->origins;
    m->origins.push_back(n.name);
  }
  std::vector<ir::Value*> results;
  for (const ir::Value* v : branch.outputs()) results.push_back(mapped(v));
  return results;
}

}  // namespace

bool inline_constant_ifs(ir::Graph& g) {
  UseIndex uses(g);
  bool changed = false;
  for (ir::Node* n : g.node_list()) {
    if (n->op != "If" || !n->domain.empty()) continue;
    std::optional<bool> cond = constant_condition(*n);
    const char* attr = cond && *cond ? "then_branch" : "else_branch";
    if (!cond || !n->attrs.has(attr)) continue;
    std::vector<ir::Value*> results = inline_branch(uses, *n, *n->attrs.get_graph(attr));
    if (results.empty() && !n->outputs.empty()) continue;
    // Outputs that cannot take over a graph output's name (the result is a graph input or
    // already an output) are produced by an Identity instead.
    std::vector<std::pair<ir::Value*, ir::Value*>> identities;
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      if (!n->outputs[i]) continue;
      if (!replace_node_output(uses, n, i, results[i]))
        identities.emplace_back(results[i], n->outputs[i]);
    }
    const std::string name = n->name;
    uses.remove_node(n);
    for (auto [from, to] : identities) {
      ir::Node* id = uses.add_node("Identity", g.unique_node_name(name + "/output"), {from}, {to});
      id->origins = {name};
    }
    changed = true;
  }
  if (changed) {
    uses.remove_forgotten_nodes();
    g.sort_topologically();
    g.remove_unused();
  }
  return changed;
}

}  // namespace kiln::passes
