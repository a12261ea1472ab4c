// CPU executor: binds inputs, runs kernels in order, frees dead activations.
#include "runtime/cpu_execution_context.hpp"

#include <unordered_map>

#include "backends/cpu/run_node.hpp"
#include "core/error.hpp"

namespace kiln {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

}  // namespace

CpuExecutionContext::CpuExecutionContext(std::shared_ptr<const Engine::Impl> engine)
    : engine_(std::move(engine)) {
  const ir::Graph& g = *engine_->graph;
  std::unordered_map<const ir::Value*, size_t> slot;
  for (const auto& v : g.values()) {
    slot[v.get()] = slot_values_.size();
    slot_values_.push_back(v.get());
  }
  auto slot_of = [&](const ir::Value* v) { return v ? slot.at(v) : kNone; };
  std::vector<size_t> last_use(slot_values_.size(), kNone);
  for (const auto& n : g.nodes()) {
    nodes_.push_back(n.get());
    kernels_.push_back(cpu::CpuKernelRegistry::instance().create(*n));
    std::vector<size_t> ins, outs;
    for (const ir::Value* v : n->inputs) ins.push_back(slot_of(v));
    for (const ir::Value* v : n->outputs) outs.push_back(slot_of(v));
    for (size_t s : ins) {
      if (s != kNone) last_use[s] = nodes_.size() - 1;
    }
    node_inputs_.push_back(std::move(ins));
    node_outputs_.push_back(std::move(outs));
  }
  release_after_.resize(nodes_.size());
  for (size_t s = 0; s < slot_values_.size(); ++s) {
    const ir::Value* v = slot_values_[s];
    if (last_use[s] == kNone || v->is_constant() || g.is_graph_output(v)) continue;
    release_after_[last_use[s]].push_back(s);
  }
}

void CpuExecutionContext::bind_inputs(const std::map<std::string, Tensor>& inputs,
                                      std::vector<Tensor>& slots) const {
  const ir::Graph& g = *engine_->graph;
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const ir::Value* v : g.inputs()) known |= v->name == name;
    if (!known) {
      std::string names;
      for (const ir::Value* v : g.inputs()) names += (names.empty() ? "'" : ", '") + v->name + "'";
      fail(ErrorCode::kInvalidArgument, "'", name,
           "' is not an input of this engine (inputs: ", names, ")");
    }
  }
  for (size_t s = 0; s < slot_values_.size(); ++s) {
    const ir::Value* v = slot_values_[s];
    if (v->constant) slots[s] = *v->constant;
  }
  for (const ir::Value* v : g.inputs()) {
    auto it = inputs.find(v->name);
    if (it == inputs.end())
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' was not given");
    const Tensor& t = it->second;
    if (t.dtype() != v->dtype) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' must be ", to_string(v->dtype),
           ", got ", to_string(t.dtype()));
    }
    if (v->shape) {
      bool ok = v->shape->size() == t.shape().size();
      for (size_t i = 0; ok && i < t.shape().size(); ++i) {
        ok = !(*v->shape)[i].known() || (*v->shape)[i].value == t.shape()[i];
      }
      if (!ok) {
        fail(ErrorCode::kInvalidArgument, "input '", v->name, "' must have shape ",
             ir::sym_shape_to_string(v->shape), ", got ", shape_to_string(t.shape()));
      }
    }
    for (size_t s = 0; s < slot_values_.size(); ++s) {
      if (slot_values_[s] == v) slots[s] = t;
    }
  }
}

std::vector<Tensor> CpuExecutionContext::execute(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> slots(slot_values_.size());
  bind_inputs(inputs, slots);
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ir::Node& node = *nodes_[i];
    ins.clear();
    for (size_t s : node_inputs_[i]) ins.push_back(s == kNone ? nullptr : &slots[s]);
    std::vector<Tensor> outs = cpu::run_node(*kernels_[i], node, ins);
    for (size_t o = 0; o < node_outputs_[i].size(); ++o) {
      size_t s = node_outputs_[i][o];
      if (s != kNone) slots[s] = std::move(outs[o]);
    }
    if (observer_) {
      std::vector<Tensor> layer_outputs;
      for (size_t s : node_outputs_[i]) layer_outputs.push_back(s == kNone ? Tensor() : slots[s]);
      observer_(node, layer_outputs, observer_user_);
    }
    for (size_t s : release_after_[i]) slots[s] = Tensor();
  }
  std::vector<Tensor> result;
  for (const ir::Value* v : engine_->graph->outputs()) {
    for (size_t s = 0; s < slot_values_.size(); ++s) {
      if (slot_values_[s] == v) {
        result.push_back(slots[s]);
        break;
      }
    }
  }
  return result;
}

}  // namespace kiln
