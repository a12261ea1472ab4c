// The readers of every value, kept current through the index's own edits.
#include "passes/use_index.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace kiln::passes {
namespace {

constexpr uint32_t kNoRead = UINT32_MAX;

}  // namespace

void UseIndex::build() const {
  if (built_) return;
  built_ = true;
  readers_.reserve(graph_.values().size());
  nodes_.reserve(graph_.nodes().size());
  for (const auto& n : graph_.nodes()) {
    if (!forgotten(n.get())) count_reads(n.get());
  }
  const std::vector<ir::Value*>& outputs = graph_.outputs();
  for (size_t i = 0; i < outputs.size(); ++i) output_slots_[outputs[i]].push_back(i);
  graph_inputs_.insert(graph_.inputs().begin(), graph_.inputs().end());
}

void UseIndex::count_reads(ir::Node* n) const {
  NodeEntry& entry = nodes_[n];
  entry.order = nodes_.size() - 1;
  entry.at.assign(n->inputs.size(), kNoRead);
  for (size_t i = 0; i < n->inputs.size(); ++i) add_read(n->inputs[i], n, i);
}

void UseIndex::add_read(ir::Value* v, ir::Node* n, size_t slot) const {
  if (!v) return;
  std::vector<Read>& reads = readers_[v];
  nodes_.at(n).at[slot] = static_cast<uint32_t>(reads.size());
  reads.push_back({n, static_cast<uint32_t>(slot)});
}

void UseIndex::drop_read(const ir::Value* v, ir::Node* n, size_t slot) const {
  auto entry = nodes_.find(n);
  if (!v || entry == nodes_.end() || slot >= entry->second.at.size()) return;
  const uint32_t at = entry->second.at[slot];
  auto it = readers_.find(v);
  if (at == kNoRead || it == readers_.end()) return;
  // Swap-remove: the last read takes this one's place.
  std::vector<Read>& reads = it->second;
  const Read moved = reads.back();
  reads[at] = moved;
  nodes_.at(moved.node).at[moved.slot] = at;
  reads.pop_back();
  entry->second.at[slot] = kNoRead;
}

const std::vector<UseIndex::Read>* UseIndex::reads_of(const ir::Value* v) const {
  build();
  auto it = readers_.find(v);
  return it == readers_.end() || it->second.empty() ? nullptr : &it->second;
}

std::vector<ir::Node*> UseIndex::consumers(const ir::Value* v) const {
  std::vector<ir::Node*> out;
  const std::vector<Read>* reads = reads_of(v);
  if (!reads) return out;
  for (const Read& r : *reads) out.push_back(r.node);
  std::sort(out.begin(), out.end(), [&](const ir::Node* a, const ir::Node* b) {
    return nodes_.at(a).order < nodes_.at(b).order;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool UseIndex::has_consumers(const ir::Value* v) const {
  return reads_of(v) != nullptr;
}

bool UseIndex::has_more_consumers_than(const ir::Value* v, size_t n) const {
  const std::vector<Read>* reads = reads_of(v);
  if (!reads) return false;
  std::vector<const ir::Node*> seen;
  for (const Read& r : *reads) {
    if (std::find(seen.begin(), seen.end(), r.node) != seen.end()) continue;
    seen.push_back(r.node);
    if (seen.size() > n) return true;
  }
  return false;
}

ir::Node* UseIndex::only_consumer(const ir::Value* v) const {
  const std::vector<Read>* reads = reads_of(v);
  if (!reads) return nullptr;
  ir::Node* first = reads->front().node;
  for (const Read& r : *reads) {
    if (r.node != first) return nullptr;
  }
  return first;
}

bool UseIndex::is_graph_output(const ir::Value* v) const {
  build();
  auto it = output_slots_.find(v);
  return it != output_slots_.end() && !it->second.empty();
}

bool UseIndex::is_graph_input(const ir::Value* v) const {
  build();
  return graph_inputs_.count(v) != 0;
}

void UseIndex::set_input(ir::Node* n, size_t i, ir::Value* v) {
  build();
  if (n->inputs.size() <= i) n->inputs.resize(i + 1, nullptr);
  if (forgotten(n)) {
    n->inputs[i] = v;
    return;
  }
  NodeEntry& entry = nodes_.at(n);
  if (entry.at.size() <= i) entry.at.resize(i + 1, kNoRead);
  drop_read(n->inputs[i], n, i);
  n->inputs[i] = v;
  add_read(v, n, i);
}

void UseIndex::set_inputs(ir::Node* n, std::vector<ir::Value*> inputs) {
  build();
  if (forgotten(n)) {
    n->inputs = std::move(inputs);
    return;
  }
  for (size_t i = 0; i < n->inputs.size(); ++i) drop_read(n->inputs[i], n, i);
  n->inputs = std::move(inputs);
  nodes_.at(n).at.assign(n->inputs.size(), kNoRead);
  for (size_t i = 0; i < n->inputs.size(); ++i) add_read(n->inputs[i], n, i);
}

void UseIndex::replace_all_uses(ir::Value* from, ir::Value* to) {
  build();
  if (from == to) return;
  if (auto it = readers_.find(from); it != readers_.end()) {
    std::vector<Read> moved = std::move(it->second);
    readers_.erase(it);
    for (const Read& r : moved) {
      if (r.node->inputs.at(r.slot) != from) {
        fail(ErrorCode::kInternal, r.node->describe(), " changed its inputs behind the use index");
      }
      r.node->inputs[r.slot] = to;
      nodes_.at(r.node).at[r.slot] = kNoRead;
      add_read(to, r.node, r.slot);
    }
  }
  if (auto it = output_slots_.find(from); it != output_slots_.end()) {
    std::vector<size_t> slots = std::move(it->second);
    output_slots_.erase(it);
    std::vector<ir::Value*>& outputs = graph_.outputs();
    for (size_t slot : slots) outputs[slot] = to;
    std::vector<size_t>& into = output_slots_[to];
    into.insert(into.end(), slots.begin(), slots.end());
  }
}

ir::Node* UseIndex::add_node(const std::string& op, const std::string& name,
                             std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs) {
  ir::Node* n = graph_.add_node(op, name, std::move(inputs), std::move(outputs));
  if (built_) count_reads(n);  // (else build() finds it, last in graph order)
  return n;
}

void UseIndex::forget_node(ir::Node* n) {
  build();
  if (!forgotten_.insert(n).second) return;
  for (size_t i = 0; i < n->inputs.size(); ++i) drop_read(n->inputs[i], n, i);
}

void UseIndex::remove_node(ir::Node* n) {
  forget_node(n);
  for (ir::Value* o : n->outputs) {
    if (o && o->producer == n) o->producer = nullptr;
  }
}

void UseIndex::forget_if_dead(ir::Node* n) {
  std::vector<ir::Node*> work = {n};
  while (!work.empty()) {
    ir::Node* m = work.back();
    work.pop_back();
    if (forgotten(m)) continue;
    bool read = std::any_of(m->outputs.begin(), m->outputs.end(), [&](const ir::Value* o) {
      return o && (has_consumers(o) || is_graph_output(o));
    });
    if (read) continue;
    forget_node(m);
    for (const ir::Value* v : m->inputs) {
      if (v && v->producer && !has_consumers(v)) work.push_back(v->producer);
    }
  }
}

void UseIndex::forget_dead_nodes() {
  for (const auto& n : graph_.nodes()) forget_if_dead(n.get());
}

void UseIndex::remove_forgotten_nodes() {
  graph_.remove_nodes(forgotten_);
  for (const ir::Node* n : forgotten_) nodes_.erase(n);
  forgotten_.clear();
}

}  // namespace kiln::passes
