// Graph construction, rewiring and ordering.
#include "ir/graph.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"

namespace kiln::ir {

SymShape to_sym_shape(const Shape& s) {
  return SymShape(s.begin(), s.end());
}

std::optional<Shape> to_concrete(const SymShape& s) {
  Shape out;
  out.reserve(s.size());
  for (const Dim& d : s) {
    if (!d.known()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

std::string sym_shape_to_string(const std::optional<SymShape>& s) {
  if (!s) return "[?]";
  std::string r = "[";
  for (size_t i = 0; i < s->size(); ++i) {
    if (i) r += ",";
    const Dim& d = (*s)[i];
    r += d.known() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return r + "]";
}

std::string Node::describe() const {
  return cat("node '", name, "' (", domain.empty() ? "" : domain + ".", op, ")");
}

std::vector<const Graph*> subgraphs_of(const Node& node) {
  std::vector<const Graph*> out;
  for (const auto& [name, v] : node.attrs.all()) {
    if (const GraphAttr* g = std::get_if<GraphAttr>(&v); g && *g) out.push_back(g->get());
  }
  return out;
}

Value* Graph::add_value(const std::string& name, DataType dtype, std::optional<SymShape> shape) {
  auto v = std::make_unique<Value>();
  v->name = name;
  v->dtype = dtype;
  v->shape = std::move(shape);
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_constant(const std::string& name, Tensor data) {
  Value* v = add_value(name, data.dtype(), to_sym_shape(data.shape()));
  v->constant = std::move(data);
  return v;
}

Node* Graph::add_node(const std::string& op, const std::string& name, std::vector<Value*> inputs,
                      std::vector<Value*> outputs) {
  auto n = std::make_unique<Node>();
  n->op = op;
  n->name = name;
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  n->attrs.set_owner(n->describe());
  for (Value* o : n->outputs) {
    if (o) o->producer = n.get();
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

Value* Graph::find_value(const std::string& name) const {
  for (const auto& v : values_) {
    if (v->name == name) return v.get();
  }
  return nullptr;
}

std::vector<Node*> Graph::node_list() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

bool Graph::is_graph_input(const Value* v) const {
  return std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end();
}

bool Graph::is_graph_output(const Value* v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    if (std::find(n->inputs.begin(), n->inputs.end(), v) != n->inputs.end()) {
      out.push_back(n.get());
    }
  }
  return out;
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    std::replace(n->inputs.begin(), n->inputs.end(), from, to);
  }
  std::replace(outputs_.begin(), outputs_.end(), from, to);
}

void Graph::remove_node(Node* n) {
  for (Value* o : n->outputs) {
    if (o && o->producer == n) o->producer = nullptr;
  }
  std::erase_if(nodes_, [n](const std::unique_ptr<Node>& p) { return p.get() == n; });
}

void Graph::remove_unused() {
  bool changed = true;
  while (changed) {
    changed = false;
    std::unordered_set<const Value*> used(outputs_.begin(), outputs_.end());
    for (const auto& n : nodes_) used.insert(n->inputs.begin(), n->inputs.end());
    for (size_t i = nodes_.size(); i-- > 0;) {
      Node* n = nodes_[i].get();
      bool live = std::any_of(n->outputs.begin(), n->outputs.end(),
                              [&](Value* o) { return o && used.count(o); });
      if (!live) {
        remove_node(n);
        changed = true;
      }
    }
  }
  std::unordered_set<const Value*> referenced(outputs_.begin(), outputs_.end());
  referenced.insert(inputs_.begin(), inputs_.end());
  for (const auto& n : nodes_) {
    referenced.insert(n->inputs.begin(), n->inputs.end());
    referenced.insert(n->outputs.begin(), n->outputs.end());
  }
  std::erase_if(values_,
                [&](const std::unique_ptr<Value>& v) { return !referenced.count(v.get()); });
}

void Graph::sort_topologically() {
  std::unordered_map<const Value*, Node*> producer;
  for (const auto& n : nodes_) {
    for (Value* o : n->outputs) {
      if (o) producer[o] = n.get();
    }
  }
  // Iterative DFS keeps the original order where it is already valid.
  enum class Mark { kNone, kActive, kDone };
  std::unordered_map<Node*, Mark> mark;
  std::vector<std::unique_ptr<Node>> ordered;
  std::unordered_map<Node*, std::unique_ptr<Node>*> slot;
  for (auto& n : nodes_) slot[n.get()] = &n;

  for (auto& root : nodes_) {
    if (!root || mark[root.get()] == Mark::kDone) continue;
    std::vector<std::pair<Node*, size_t>> stack{{root.get(), 0}};
    mark[root.get()] = Mark::kActive;
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->inputs.size()) {
        Value* in = n->inputs[next++];
        auto it = in ? producer.find(in) : producer.end();
        if (it == producer.end()) continue;
        Node* p = it->second;
        if (mark[p] == Mark::kActive) {
          fail(ErrorCode::kInvalidModel, "the graph has a cycle through ", p->describe(),
               " and tensor '", in->name, "'");
        }
        if (mark[p] == Mark::kNone) {
          mark[p] = Mark::kActive;
          stack.push_back({p, 0});
        }
      } else {
        mark[n] = Mark::kDone;
        ordered.push_back(std::move(*slot[n]));
        stack.pop_back();
      }
    }
  }
  nodes_ = std::move(ordered);
}

std::string Graph::unique_value_name(const std::string& base) const {
  std::set<std::string> names;
  for (const auto& v : values_) names.insert(v->name);
  if (!names.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!names.count(candidate)) return candidate;
  }
}

std::string Graph::unique_node_name(const std::string& base) const {
  std::set<std::string> names;
  for (const auto& n : nodes_) names.insert(n->name);
  if (!names.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!names.count(candidate)) return candidate;
  }
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  std::unordered_map<const Value*, Value*> map;
  map[nullptr] = nullptr;
  for (const auto& v : values_) {
    Value* c = g->add_value(v->name, v->dtype, v->shape);
    c->constant = v->constant;
    map[v.get()] = c;
  }
  for (const auto& n : nodes_) {
    std::vector<Value*> ins, outs;
    for (Value* v : n->inputs) ins.push_back(map.at(v));
    for (Value* v : n->outputs) outs.push_back(map.at(v));
    Node* c = g->add_node(n->op, n->name, ins, outs);
    c->domain = n->domain;
    c->attrs = n->attrs;
    c->origins = n->origins;
  }
  for (Value* v : inputs_) g->inputs_.push_back(map.at(v));
  for (Value* v : outputs_) g->outputs_.push_back(map.at(v));
  return g;
}

}  // namespace kiln::ir
