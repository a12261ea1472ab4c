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
  // Plain concatenation: every node added is described (its attributes' owner), and a string
  // stream per node costs more than the rest of adding it.
  std::string out = "node '" + name + "' (";
  if (!domain.empty()) out += domain + ".";
  return out + op + ")";
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
  Value* added = values_.back().get();
  auto [it, fresh] = value_names_.try_emplace(name, added);
  if (!fresh && it->second->name != name) it->second = added;  // the entry was stale
  return added;
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
  Node* added = nodes_.back().get();
  auto [it, fresh] = node_names_.try_emplace(name, added);
  if (!fresh && it->second->name != name) it->second = added;  // the entry was stale
  return added;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = value_names_.find(name);
  return it != value_names_.end() && it->second->name == name ? it->second : nullptr;
}

void Graph::rename_value(Value* v, const std::string& name) {
  auto it = value_names_.find(v->name);
  if (it != value_names_.end() && it->second == v) value_names_.erase(it);
  v->name = name;
  if (!value_name_taken(name)) value_names_[name] = v;
}

bool Graph::value_name_taken(const std::string& name) const {
  return find_value(name) != nullptr;
}

bool Graph::node_name_taken(const std::string& name) const {
  auto it = node_names_.find(name);
  return it != node_names_.end() && it->second->name == name;
}

void Graph::index_names() {
  value_names_.clear();
  node_names_.clear();
  value_names_.reserve(values_.size());
  node_names_.reserve(nodes_.size());
  for (const auto& v : values_) value_names_.try_emplace(v->name, v.get());
  for (const auto& n : nodes_) node_names_.try_emplace(n->name, n.get());
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
  // One node: a pointer search and one erase (remove_nodes' hashed sweep costs more per node).
  for (Value* o : n->outputs) {
    if (o && o->producer == n) o->producer = nullptr;
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [n](const std::unique_ptr<Node>& p) { return p.get() == n; });
  if (it == nodes_.end()) return;
  auto name = node_names_.find(n->name);
  const bool indexed = name != node_names_.end() && name->second == n;
  if (indexed) node_names_.erase(name);
  nodes_.erase(it);
  if (!indexed) index_names();  // no entry may point at a removed node
}

void Graph::remove_nodes(const std::unordered_set<const Node*>& doomed) {
  if (doomed.empty()) return;
  bool unindexed = false;  // a node the index does not hold under its name (a repeated name)
  for (const Node* n : doomed) {
    for (Value* o : n->outputs) {
      if (o && o->producer == n) o->producer = nullptr;
    }
    auto it = node_names_.find(n->name);
    if (it != node_names_.end() && it->second == n) {
      node_names_.erase(it);
    } else {
      unindexed = true;
    }
  }
  std::erase_if(nodes_, [&](const std::unique_ptr<Node>& p) { return doomed.count(p.get()); });
  if (unindexed) index_names();  // no entry may point at a removed node
}

void Graph::remove_unused() {
  // Values are numbered by their sorted addresses (every value a node or the graph refers to, this
  // graph's or not), so that counts and marks are plain vectors: graphs of 100,000s of layers.
  std::vector<const Value*> ids;
  ids.reserve(values_.size() + outputs_.size() + inputs_.size());
  for (const auto& v : values_) ids.push_back(v.get());
  ids.insert(ids.end(), outputs_.begin(), outputs_.end());
  ids.insert(ids.end(), inputs_.begin(), inputs_.end());
  for (const auto& n : nodes_) {
    ids.insert(ids.end(), n->inputs.begin(), n->inputs.end());
    ids.insert(ids.end(), n->outputs.begin(), n->outputs.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto id = [&](const Value* v) {
    return static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), v) - ids.begin());
  };
  // A node is dead when none of its outputs is read by a live node or is a graph output: count
  // each value's reads, then retire dead nodes from a worklist, un-counting their reads.
  constexpr size_t kNoWriter = SIZE_MAX;
  std::vector<size_t> reads(ids.size(), 0), writer(ids.size(), kNoWriter);
  bool several_writers = false;
  for (const Value* v : outputs_) ++reads[id(v)];
  for (size_t k = 0; k < nodes_.size(); ++k) {
    for (const Value* v : nodes_[k]->inputs) ++reads[id(v)];
    for (const Value* o : nodes_[k]->outputs) {
      if (!o) continue;
      size_t& w = writer[id(o)];
      several_writers |= w != kNoWriter && w != k;
      w = k;
    }
  }
  std::vector<char> dead(nodes_.size(), 0);
  std::vector<size_t> work;
  auto retire_if_dead = [&](size_t k) {
    if (dead[k]) return;
    const std::vector<Value*>& outs = nodes_[k]->outputs;
    bool live = std::any_of(outs.begin(), outs.end(),
                            [&](const Value* o) { return o && reads[id(o)] > 0; });
    if (live) return;
    dead[k] = 1;
    work.push_back(k);
  };
  // (With a value written twice, an invalid graph, a writer may be missed: sweep to a fixed point.)
  for (size_t before = SIZE_MAX, retired = 0; retired != before;) {
    before = retired;
    for (size_t k = 0; k < nodes_.size(); ++k) retire_if_dead(k);
    while (!work.empty()) {
      size_t k = work.back();
      work.pop_back();
      ++retired;
      for (const Value* v : nodes_[k]->inputs) {
        size_t i = id(v);
        if (--reads[i] == 0 && v && writer[i] != kNoWriter) retire_if_dead(writer[i]);
      }
    }
    if (!several_writers) break;
  }
  std::unordered_set<const Node*> doomed;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    if (dead[k]) doomed.insert(nodes_[k].get());
  }
  remove_nodes(doomed);
  std::vector<char> referenced(ids.size(), 0);
  for (const Value* v : outputs_) referenced[id(v)] = 1;
  for (const Value* v : inputs_) referenced[id(v)] = 1;
  for (const auto& n : nodes_) {
    for (const Value* v : n->inputs) referenced[id(v)] = 1;
    for (const Value* v : n->outputs) referenced[id(v)] = 1;
  }
  size_t before = values_.size();
  std::erase_if(values_, [&](const std::unique_ptr<Value>& v) { return !referenced[id(v.get())]; });
  // The name index drops the removed values (and picks up values renamed behind its back).
  if (values_.size() != before) index_names();
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
  if (!value_name_taken(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!value_name_taken(candidate)) return candidate;
  }
}

std::string Graph::unique_node_name(const std::string& base) const {
  if (!node_name_taken(base)) return base;
  for (int i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!node_name_taken(candidate)) return candidate;
  }
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  g->values_.reserve(values_.size());
  g->nodes_.reserve(nodes_.size());
  g->value_names_.reserve(values_.size());
  g->node_names_.reserve(nodes_.size());
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
