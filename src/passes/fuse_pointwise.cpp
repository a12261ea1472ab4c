// Fuses groups of elementwise layers into single Pointwise layers (see ir/pointwise_program.hpp).
// A group is a connected set of elementwise float layers whose outputs all have one static shape
// (dims known or symbolic) and one type; their other operands broadcast into it. A value of the
// group that is read outside it, or is a graph output, becomes an output of the fused layer, so
// nothing is computed twice. A group never swallows a path that leaves it and comes back (that
// would make a cycle). Existing Pointwise layers join groups like any other elementwise layer.
#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "ir/op_registry.hpp"
#include "ir/pointwise_program.hpp"
#include "passes/passes.hpp"
#include "passes/pattern.hpp"

namespace kiln::passes {
namespace {

using ir::PointwiseOpcode;

// Ops that map to one opcode with their inputs as operands.
const std::map<std::string, PointwiseOpcode>& simple_ops() {
  static const std::map<std::string, PointwiseOpcode> table = {
      {"Neg", PointwiseOpcode::kNeg},
      {"Abs", PointwiseOpcode::kAbs},
      {"Exp", PointwiseOpcode::kExp},
      {"Log", PointwiseOpcode::kLog},
      {"Sqrt", PointwiseOpcode::kSqrt},
      {"Reciprocal", PointwiseOpcode::kReciprocal},
      {"Erf", PointwiseOpcode::kErf},
      {"Tanh", PointwiseOpcode::kTanh},
      {"Sigmoid", PointwiseOpcode::kSigmoid},
      {"Relu", PointwiseOpcode::kRelu},
      {"Floor", PointwiseOpcode::kFloor},
      {"Ceil", PointwiseOpcode::kCeil},
      {"Round", PointwiseOpcode::kRound},
      {"Sin", PointwiseOpcode::kSin},
      {"Cos", PointwiseOpcode::kCos},
      {"Softplus", PointwiseOpcode::kSoftplus},
      {"Softsign", PointwiseOpcode::kSoftsign},
      {"Mish", PointwiseOpcode::kMish},
      {"HardSwish", PointwiseOpcode::kHardSwish},
      {"Add", PointwiseOpcode::kAdd},
      {"Sub", PointwiseOpcode::kSub},
      {"Mul", PointwiseOpcode::kMul},
      {"Div", PointwiseOpcode::kDiv},
      {"Pow", PointwiseOpcode::kPow},
      {"PRelu", PointwiseOpcode::kPRelu},
  };
  return table;
}

// Ops with attributes that become constant operands: name -> (opcode, attr defaults).
struct ParamOp {
  PointwiseOpcode op;
  std::vector<std::pair<const char*, float>> params;
};
const std::map<std::string, ParamOp>& param_ops() {
  static const std::map<std::string, ParamOp> table = {
      {"LeakyRelu", {PointwiseOpcode::kLeakyRelu, {{"alpha", 0.01f}}}},
      {"Elu", {PointwiseOpcode::kElu, {{"alpha", 1.0f}}}},
      {"Celu", {PointwiseOpcode::kCelu, {{"alpha", 1.0f}}}},
      {"ThresholdedRelu", {PointwiseOpcode::kThresholdedRelu, {{"alpha", 1.0f}}}},
      {"HardSigmoid", {PointwiseOpcode::kHardSigmoid, {{"alpha", 0.2f}, {"beta", 0.5f}}}},
      {"Selu",
       {PointwiseOpcode::kSelu,
        {{"alpha", 1.67326319217681884765625f}, {"gamma", 1.05070102214813232421875f}}}},
  };
  return table;
}

bool all_ones(const std::optional<ir::SymShape>& s) {
  if (!s) return false;
  return std::all_of(s->begin(), s->end(), [](const ir::Dim& d) { return d.value == 1; });
}

bool is_fusible(const ir::Node* n) {
  if (!n->domain.empty() || n->outputs.empty()) return false;
  const std::string& op = n->op;
  bool known = op == "Pointwise" || simple_ops().count(op) || param_ops().count(op) ||
               op == "Gelu" || op == "Clip" || op == "Max" || op == "Min" ||
               (op == "Sum" && n->inputs.size() == 2);
  if (!known) return false;
  if (op != "Pointwise" && n->outputs.size() != 1) return false;
  const ir::Value* out0 = n->outputs[0];
  if (!out0 || !is_float_type(out0->dtype) || !same_static_shape(out0->shape, out0->shape))
    return false;
  for (const ir::Value* o : n->outputs) {
    if (!o || o->dtype != out0->dtype || !same_static_shape(o->shape, out0->shape)) return false;
  }
  for (size_t i = 0; i < n->inputs.size(); ++i) {
    const ir::Value* in = n->inputs[i];
    if (!in) {
      if (op == "Clip" && i > 0) continue;  // an absent bound
      return false;
    }
    if (in->dtype != out0->dtype || !in->shape) return false;
    if (op == "Clip" && i > 0 && !all_ones(in->shape)) return false;  // bounds are scalars
  }
  if (op == "Gelu") {
    std::string a = n->attrs.get_string("approximate", "none");
    if (a != "none" && a != "tanh") return false;
  }
  return true;
}

struct Group {
  std::vector<ir::Node*> nodes;  // in topological order
  ir::SymShape shape;
  DataType dtype;
};

class Fuser {
 public:
  explicit Fuser(ir::Graph& g) : g_(g) {
    for (ir::Node* n : g.node_list()) position_[n] = position_.size();
  }

  bool run() {
    for (ir::Node* n : g_.node_list()) {
      if (is_fusible(n)) place(n);
    }
    bool changed = false;
    for (Group& group : groups_) {
      if (group.nodes.size() >= 2) {
        emit(group);
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
  // Puts n into the group(s) of its producers when it can (merging them), else a new group.
  void place(ir::Node* n) {
    const ir::Value* out = n->outputs[0];
    std::vector<int> candidates;
    for (const ir::Value* in : n->inputs) {
      if (!in || !in->producer) continue;
      auto it = group_of_.find(in->producer);
      if (it == group_of_.end()) continue;
      const Group& g = groups_[static_cast<size_t>(it->second)];
      if (g.dtype == out->dtype && same_static_shape(g.shape, out->shape) &&
          std::find(candidates.begin(), candidates.end(), it->second) == candidates.end())
        candidates.push_back(it->second);
    }
    // Try all candidate groups together, then each alone.
    std::vector<std::vector<int>> options;
    if (!candidates.empty()) options.push_back(candidates);
    if (candidates.size() > 1) {
      for (int c : candidates) options.push_back({c});
    }
    for (const std::vector<int>& option : options) {
      std::vector<ir::Node*> merged = {n};
      for (int c : option) {
        const Group& g = groups_[static_cast<size_t>(c)];
        merged.insert(merged.end(), g.nodes.begin(), g.nodes.end());
      }
      if (!is_convex(merged)) continue;
      Group& target = groups_[static_cast<size_t>(option[0])];
      for (size_t k = 1; k < option.size(); ++k) {
        Group& other = groups_[static_cast<size_t>(option[k])];
        for (ir::Node* m : other.nodes) group_of_[m] = option[0];
        target.nodes.insert(target.nodes.end(), other.nodes.begin(), other.nodes.end());
        other.nodes.clear();
      }
      target.nodes.push_back(n);
      std::sort(target.nodes.begin(), target.nodes.end(),
                [&](ir::Node* a, ir::Node* b) { return position_[a] < position_[b]; });
      group_of_[n] = option[0];
      return;
    }
    group_of_[n] = static_cast<int>(groups_.size());
    groups_.push_back(Group{{n}, *out->shape, out->dtype});
  }

  // True when fusing `set` into one node, with every existing group fused too, makes no cycle:
  // no path leaves the set and comes back. Paths are followed through the other groups as they
  // will be once fused (entering a group at any node reaches the inputs of all its nodes).
  bool is_convex(const std::vector<ir::Node*>& set) const {
    std::unordered_set<const ir::Node*> members(set.begin(), set.end());
    std::unordered_set<const ir::Node*> seen;
    std::vector<const ir::Node*> stack;
    for (const ir::Node* m : set) {
      for (const ir::Value* in : m->inputs) {
        if (in && in->producer && !members.count(in->producer)) stack.push_back(in->producer);
      }
    }
    while (!stack.empty()) {
      const ir::Node* p = stack.back();
      stack.pop_back();
      if (!seen.insert(p).second) continue;
      if (members.count(p)) return false;
      for (const ir::Value* in : p->inputs) {
        if (in && in->producer) stack.push_back(in->producer);
      }
      if (auto it = group_of_.find(p); it != group_of_.end()) {
        for (const ir::Node* mate : groups_[static_cast<size_t>(it->second)].nodes)
          stack.push_back(mate);
      }
    }
    return true;
  }

  void emit(const Group& group) {
    std::unordered_set<const ir::Node*> members(group.nodes.begin(), group.nodes.end());
    ir::PointwiseProgram program;
    std::vector<ir::Value*> inputs;
    std::unordered_map<const ir::Value*, int64_t> reg;
    // The rank of the widest tensor operand: a one-element float constant no wider than it adds
    // nothing to the output shape, so it can become an immediate.
    size_t widest = 0;
    std::vector<ir::Value*> leaves;
    for (const ir::Node* n : group.nodes) {
      for (ir::Value* in : n->inputs) {
        if (!in || (in->producer && members.count(in->producer))) continue;
        if (std::find(leaves.begin(), leaves.end(), in) == leaves.end()) leaves.push_back(in);
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
        bool external = g_.is_graph_output(o);
        for (const ir::Node* c : g_.consumers(o)) external |= !members.count(c);
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
    if (n.op == "Pointwise") {
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
    if (auto it = simple_ops().find(n.op); it != simple_ops().end()) {
      r = n.inputs.size() == 1 ? p.emit(it->second, in(0)) : p.emit(it->second, in(0), in(1));
    } else if (auto pit = param_ops().find(n.op); pit != param_ops().end()) {
      std::vector<int64_t> ops = {in(0)};
      for (const auto& [name, fallback] : pit->second.params)
        ops.push_back(p.emit_constant(n.attrs.get_float(name, fallback)));
      r = p.emit(pit->second.op, ops[0], ops[1], ops.size() > 2 ? ops[2] : -1);
    } else if (n.op == "Gelu") {
      bool tanh = n.attrs.get_string("approximate", "none") == "tanh";
      r = p.emit(tanh ? PointwiseOpcode::kGeluTanh : PointwiseOpcode::kGelu, in(0));
    } else if (n.op == "Clip") {
      // An omitted bound is the largest finite value (ONNX's numeric_limits max), not infinity:
      // Clip(+inf) without a max is FLT_MAX.
      constexpr float kMax = std::numeric_limits<float>::max();
      int64_t lo = n.input(1) ? in(1) : p.emit_constant(-kMax);
      int64_t hi = n.input(2) ? in(2) : p.emit_constant(kMax);
      r = p.emit(PointwiseOpcode::kClip, in(0), lo, hi);
    } else if (n.op == "Sum") {
      r = p.emit(PointwiseOpcode::kAdd, in(0), in(1));
    } else {  // Max, Min: NaN-propagating, so any association gives the same result
      auto op = n.op == "Max" ? PointwiseOpcode::kMax : PointwiseOpcode::kMin;
      r = in(0);
      for (size_t i = 1; i < n.inputs.size(); ++i) r = p.emit(op, r, in(i));
    }
    reg[n.outputs[0]] = r;
  }

  ir::Graph& g_;
  std::unordered_map<const ir::Node*, size_t> position_;
  std::unordered_map<const ir::Node*, int> group_of_;
  std::vector<Group> groups_;
};

}  // namespace

bool fuse_pointwise(ir::Graph& graph) {
  return Fuser(graph).run();
}

}  // namespace kiln::passes
