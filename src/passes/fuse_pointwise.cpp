// Fuses groups of elementwise layers into single Pointwise layers (see ir/pointwise_program.hpp).
// A group is a connected set of elementwise float layers whose outputs all have one static shape
// (dims known or symbolic) and one type; their other operands broadcast into it. A value of the
// group that is read outside it, or is a graph output, becomes an output of the fused layer, so
// nothing is computed twice. A group never swallows a path that leaves it and comes back (that
// would make a cycle). Existing Pointwise layers join groups like any other elementwise layer.
#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "ir/op_traits.hpp"
#include "ir/pointwise_program.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"
#include "passes/use_index.hpp"

namespace kiln::passes {
namespace {

using ir::PointwiseOpcode;

bool all_ones(const std::optional<ir::SymShape>& s) {
  if (!s) return false;
  return std::all_of(s->begin(), s->end(), [](const ir::Dim& d) { return d.value == 1; });
}

bool is_program(const ir::Node* n) {
  return n->op == "Pointwise" && n->domain.empty();
}

// A layer fuses when the op table gives its op a Pointwise instruction (OpTraits::pointwise), or
// when it is a Pointwise layer already.
bool is_fusible(const ir::Node* n) {
  if (n->outputs.empty()) return false;
  const ir::OpTraits& traits = ir::op_traits(*n);
  if (!is_program(n)) {
    if (!traits.pointwise || n->outputs.size() != 1) return false;
    const auto most = static_cast<size_t>(traits.pointwise->max_inputs);
    if (most != 0 && n->inputs.size() > most) return false;
  }
  // A unary op's further inputs are scalar parameters (Clip's bounds); omitted ones stand for a
  // constant (PointwiseLowering::omitted_inputs).
  const bool parameters = traits.elementwise == ir::ElementwiseClass::kUnary;
  const ir::Value* out0 = n->outputs[0];
  if (!out0 || !is_float_type(out0->dtype) || !same_static_shape(out0->shape, out0->shape))
    return false;
  for (const ir::Value* o : n->outputs) {
    if (!o || o->dtype != out0->dtype || !same_static_shape(o->shape, out0->shape)) return false;
  }
  for (size_t i = 0; i < n->inputs.size(); ++i) {
    const ir::Value* in = n->inputs[i];
    if (!in) {
      if (parameters && i > 0) continue;
      return false;
    }
    if (in->dtype != out0->dtype || !in->shape) return false;
    if (parameters && i > 0 && !all_ones(in->shape)) return false;
  }
  return true;
}

struct Group {
  std::vector<ir::Node*> nodes;  // in no particular order until emitted
  ir::SymShape shape;
  DataType dtype;
  size_t first = 0, last = 0;  // the smallest and largest position of its nodes
};

// Minimum over a suffix of an array of positions, with point updates: O(log n) each.
class SuffixMin {
 public:
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();

  explicit SuffixMin(size_t n) {
    while (size_ < n) size_ *= 2;
    tree_.assign(2 * size_, kNone);
  }
  void set(size_t i, size_t value) {
    i += size_;
    tree_[i] = value;
    for (i /= 2; i > 0; i /= 2) tree_[i] = std::min(tree_[2 * i], tree_[2 * i + 1]);
  }
  // The minimum of the entries at `begin` and after.
  size_t from(size_t begin) const {
    size_t best = kNone;
    for (size_t lo = begin + size_, hi = 2 * size_; lo < hi; lo /= 2, hi /= 2) {
      if (lo & 1) best = std::min(best, tree_[lo++]);
      if (hi & 1) best = std::min(best, tree_[--hi]);
    }
    return best;
  }

 private:
  size_t size_ = 1;
  std::vector<size_t> tree_;
};

// Groups are built in one walk over the nodes in topological order, so the work per node must not
// grow with the size of the groups or the graph (chains of 100,000 layers are fused whole):
// groups merge smaller into larger under union-find, and the cycle check explores only what can
// lie on a cycle (is_convex).
class Fuser {
 public:
  explicit Fuser(ir::Graph& g) : g_(g), nodes_(g.node_list()), group_spans_(nodes_.size()) {
    for (ir::Node* n : nodes_) position_[n] = position_.size();
  }

  bool run() {
    for (ir::Node* n : nodes_) {
      if (is_fusible(n)) place(n);
    }
    UseIndex uses(g_);
    bool changed = false;
    for (Group& group : groups_) {
      if (group.nodes.size() >= 2) {
        emit(group, uses);
        changed = true;
      }
    }
    if (changed) {
      g_.remove_unused();
      g_.sort_topologically();
    }
    return changed;
  }

 private:
  // The group a node is in now (-1 for none).
  int group_of(const ir::Node* n) {
    auto it = group_of_.find(n);
    return it == group_of_.end() ? -1 : find(it->second);
  }
  int find(int slot) {
    while (parent_[static_cast<size_t>(slot)] != slot) {
      int& p = parent_[static_cast<size_t>(slot)];
      p = parent_[static_cast<size_t>(p)];  // path halving
      slot = p;
    }
    return slot;
  }
  Group& group(int slot) { return groups_[static_cast<size_t>(slot)]; }
  // A node's place in the walk; one the walk did not see (no node of this graph) is never below
  // the search floor.
  size_t position_of(const ir::Node* n) const {
    auto it = position_.find(n);
    return it == position_.end() ? SIZE_MAX : it->second;
  }

  // Puts n into the group(s) of its producers when it can (merging them), else a new group.
  void place(ir::Node* n) {
    const ir::Value* out = n->outputs[0];
    std::vector<int> candidates;
    for (const ir::Value* in : n->inputs) {
      if (!in || !in->producer) continue;
      int c = group_of(in->producer);
      if (c < 0) continue;
      const Group& g = group(c);
      if (g.dtype == out->dtype && same_static_shape(g.shape, out->shape) &&
          std::find(candidates.begin(), candidates.end(), c) == candidates.end())
        candidates.push_back(c);
    }
    // Try all candidate groups together, then each alone.
    std::vector<std::vector<int>> options;
    if (!candidates.empty()) options.push_back(candidates);
    if (candidates.size() > 1) {
      for (int c : candidates) options.push_back({c});
    }
    const size_t at = position_.at(n);
    for (const std::vector<int>& option : options) {
      if (!is_convex(n, option)) continue;
      Group& target = group(option[0]);
      group_spans_.set(target.last, SuffixMin::kNone);
      for (size_t k = 1; k < option.size(); ++k) {
        Group& other = group(option[k]);
        group_spans_.set(other.last, SuffixMin::kNone);
        parent_[static_cast<size_t>(option[k])] = option[0];
        if (other.nodes.size() > target.nodes.size()) std::swap(other.nodes, target.nodes);
        target.nodes.insert(target.nodes.end(), other.nodes.begin(), other.nodes.end());
        other.nodes.clear();
        target.first = std::min(target.first, other.first);
      }
      target.nodes.push_back(n);
      target.last = at;  // n comes after every node placed before it
      group_spans_.set(target.last, target.first);
      group_of_[n] = option[0];
      return;
    }
    group_of_[n] = static_cast<int>(groups_.size());
    parent_.push_back(static_cast<int>(groups_.size()));
    groups_.push_back(Group{{n}, *out->shape, out->dtype, at, at});
    group_spans_.set(at, at);
  }

  // True when fusing n with the groups in `option`, with every existing group fused too, makes no
  // cycle: no path leaves the set and comes back. Paths are followed through the other groups as
  // they will be once fused (entering a group at any node reaches the inputs of all its nodes).
  //
  // Each group is already such a set, and nothing reads n yet, so a new cycle ends in n, or (with
  // several groups) in one of them: the search starts from the inputs of n (and of those groups)
  // and walks backwards. It stops below the position `floor`: a node placed earlier than every
  // node of the set reaches the set backwards only through a group that also has a node after
  // that position, so the floor is lowered until no group straddles it.
  bool is_convex(const ir::Node* n, const std::vector<int>& option) {
    size_t floor = position_.at(n);
    for (int c : option) floor = std::min(floor, group(c).first);
    for (size_t lower = group_spans_.from(floor); lower < floor; lower = group_spans_.from(floor)) {
      floor = lower;
    }
    auto in_set = [&](const ir::Node* p) {
      if (p == n) return true;
      int g = group_of(p);
      return g >= 0 && std::find(option.begin(), option.end(), g) != option.end();
    };
    std::vector<const ir::Node*> stack;
    auto push_producers = [&](const ir::Node* m) {
      for (const ir::Value* in : m->inputs) {
        if (in && in->producer && position_of(in->producer) >= floor) {
          stack.push_back(in->producer);
        }
      }
    };
    auto push_outside_producers = [&](const ir::Node* m) {
      for (const ir::Value* in : m->inputs) {
        if (in && in->producer && !in_set(in->producer) && position_of(in->producer) >= floor) {
          stack.push_back(in->producer);
        }
      }
    };
    push_outside_producers(n);
    if (option.size() > 1) {
      for (int c : option) {
        for (const ir::Node* m : group(c).nodes) push_outside_producers(m);
      }
    }
    std::unordered_set<const ir::Node*> seen;
    std::unordered_set<int> entered;  // groups whose nodes are all on the stack already
    while (!stack.empty()) {
      const ir::Node* p = stack.back();
      stack.pop_back();
      if (!seen.insert(p).second) continue;
      if (in_set(p)) return false;
      push_producers(p);
      int g = group_of(p);
      if (g >= 0 && entered.insert(g).second) {
        for (const ir::Node* mate : group(g).nodes) {
          if (position_of(mate) >= floor) stack.push_back(mate);
        }
      }
    }
    return true;
  }

  void emit(Group& group, const UseIndex& uses) {
    std::sort(group.nodes.begin(), group.nodes.end(),
              [&](ir::Node* a, ir::Node* b) { return position_.at(a) < position_.at(b); });
    std::unordered_set<const ir::Node*> members(group.nodes.begin(), group.nodes.end());
    ir::PointwiseProgram program;
    std::vector<ir::Value*> inputs;
    std::unordered_map<const ir::Value*, int64_t> reg;
    // The rank of the widest tensor operand: a one-element float constant no wider than it adds
    // nothing to the output shape, so it can become an immediate.
    size_t widest = 0;
    std::vector<ir::Value*> leaves;
    std::unordered_set<const ir::Value*> is_leaf;
    for (const ir::Node* n : group.nodes) {
      for (ir::Value* in : n->inputs) {
        if (!in || (in->producer && members.count(in->producer))) continue;
        if (is_leaf.insert(in).second) leaves.push_back(in);
      }
    }
    auto is_immediate = [](const ir::Value* v) {
      return v->is_constant() && v->constant->numel() == 1 && v->dtype != DataType::kFloat64;
    };
    for (const ir::Value* v : leaves) {
      if (!is_immediate(v)) widest = std::max(widest, v->shape->size());
    }
    for (ir::Value* v : leaves) {
      if (is_immediate(v) && v->shape->size() <= widest) continue;
      reg[v] = static_cast<int64_t>(inputs.size());
      inputs.push_back(v);
    }
    if (inputs.empty()) return;  // all constant: constant folding's business
    program.num_inputs = static_cast<int64_t>(inputs.size());
    for (ir::Value* v : leaves) {
      if (!reg.count(v)) reg[v] = program.emit_constant(static_cast<float>(*scalar_constant(v)));
    }
    for (const ir::Node* n : group.nodes) emit_node(*n, program, reg);

    std::vector<ir::Value*> outputs;
    for (const ir::Node* n : group.nodes) {
      for (ir::Value* o : n->outputs) {
        // (The index predates this pass's emissions; the nodes it lists as readers of `o` are
        // still in the graph and read it, so whether any is outside the group is unchanged.)
        bool external = uses.is_graph_output(o);
        for (const ir::Node* c : uses.consumers(o)) external |= !members.count(c);
        if (external) {
          outputs.push_back(o);
          program.outputs.push_back(reg.at(o));
        }
      }
    }
    const ir::Node* last = group.nodes.back();
    ir::Node* fused =
        g_.add_node("Pointwise", g_.unique_node_name(last->name + "_Pointwise"), inputs, outputs);
    program.store(fused->attrs);
    for (const ir::Node* n : group.nodes) {
      std::vector<std::string> origins = n->origins.empty() ? std::vector{n->name} : n->origins;
      fused->origins.insert(fused->origins.end(), origins.begin(), origins.end());
    }
    // The members no longer produce anything that is used; dead-code removal drops them.
    for (ir::Node* n : group.nodes) {
      for (ir::Value*& o : n->outputs) {
        if (o && o->producer == fused) {
          o = g_.add_value(g_.unique_value_name(o->name + "_fused"), o->dtype, o->shape);
          o->producer = n;
        }
      }
    }
  }

  static void emit_node(const ir::Node& n, ir::PointwiseProgram& p,
                        std::unordered_map<const ir::Value*, int64_t>& reg) {
    auto in = [&](size_t i) { return reg.at(n.inputs[i]); };
    int64_t r = -1;
    if (is_program(&n)) {
      ir::PointwiseProgram inner =
          ir::PointwiseProgram::load(n.attrs, static_cast<int64_t>(n.inputs.size()),
                                     static_cast<int64_t>(n.outputs.size()), n.describe());
      std::vector<int64_t> map;
      for (size_t i = 0; i < n.inputs.size(); ++i) map.push_back(in(i));
      for (const ir::PointwiseInstruction& ins : inner.code) {
        if (ins.op == PointwiseOpcode::kConst) {
          map.push_back(p.emit_constant(inner.constants[static_cast<size_t>(ins.a)]));
          continue;
        }
        auto m = [&](int64_t x) { return x < 0 ? x : map[static_cast<size_t>(x)]; };
        map.push_back(p.emit(ins.op, m(ins.a), m(ins.b), m(ins.c)));
      }
      for (size_t k = 0; k < n.outputs.size(); ++k)
        reg[n.outputs[k]] = map[static_cast<size_t>(inner.outputs[k])];
      return;
    }
    const ir::OpTraits& traits = ir::op_traits(n);
    const ir::PointwiseLowering& lowering = *traits.pointwise;
    const bool variant =
        lowering.variant_attribute &&
        n.attrs.get_string(lowering.variant_attribute, "") == lowering.variant_value;
    const PointwiseOpcode op = variant ? lowering.variant_opcode : lowering.opcode;
    if (traits.elementwise == ir::ElementwiseClass::kVariadic) {
      // Left to right: Max and Min propagate NaN, so any association gives the same result, and
      // Sum takes two inputs (PointwiseLowering::max_inputs).
      r = in(0);
      for (size_t i = 1; i < n.inputs.size(); ++i) r = p.emit(op, r, in(i));
    } else {
      // The inputs (an omitted one as the constant it stands for), then the attributes.
      int64_t operands[3] = {-1, -1, -1};
      size_t count = 0;
      int attributes = 0;
      for (const ir::AttributeOperand& a : lowering.attribute_operands)
        attributes += a.name ? 1 : 0;
      const auto inputs = static_cast<size_t>(ir::pointwise_operand_count(op) - attributes);
      for (size_t i = 0; i < inputs; ++i) {
        operands[count++] = n.input(i) ? in(i) : p.emit_constant(lowering.omitted_inputs.at(i - 1));
      }
      for (const ir::AttributeOperand& a : lowering.attribute_operands) {
        if (a.name) operands[count++] = p.emit_constant(n.attrs.get_float(a.name, a.fallback));
      }
      r = p.emit(op, operands[0], operands[1], operands[2]);
    }
    reg[n.outputs[0]] = r;
  }

  ir::Graph& g_;
  std::vector<ir::Node*> nodes_;
  std::unordered_map<const ir::Node*, size_t> position_;
  std::unordered_map<const ir::Node*, int> group_of_;  // the group a node joined (see find)
  std::vector<Group> groups_;
  std::vector<int> parent_;  // union-find over groups_: a merged group points into its target
  // At each group's last position, its first one: which groups straddle a position.
  SuffixMin group_spans_;
};

}  // namespace

bool fuse_pointwise(ir::Graph& graph) {
  return Fuser(graph).run();
}

}  // namespace kiln::passes
