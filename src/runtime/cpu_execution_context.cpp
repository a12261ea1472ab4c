// CPU executor: binds inputs, runs kernels in order, frees dead activations.
#include "runtime/cpu_execution_context.hpp"

#include <chrono>
#include <new>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "backends/cpu/run_node.hpp"
#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/op_registry.hpp"
#include "kiln/profiler.hpp"

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
  for (const ir::Value* v : g.inputs()) input_slots_.push_back(slot.at(v));
  for (const ir::Value* v : g.outputs()) output_slots_.push_back(slot.at(v));
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
  const std::unordered_set<const ir::Value*> graph_outputs(g.outputs().begin(), g.outputs().end());
  for (size_t s = 0; s < slot_values_.size(); ++s) {
    const ir::Value* v = slot_values_[s];
    if (last_use[s] == kNone || v->is_constant() || graph_outputs.count(v)) continue;
    release_after_[last_use[s]].push_back(s);
  }
  if (engine_->memory) {
    std::unordered_map<std::string, const TensorPlacement*> placement;
    for (const TensorPlacement& t : engine_->memory->tensors) placement[t.name] = &t;
    std::set<std::string> assembled = assembled_concats(*engine_->memory);
    for (const ir::Node* n : nodes_) {
      std::vector<uint64_t> slices;
      if (n->output(0) && assembled.count(n->output(0)->name)) {
        for (const ir::Value* in : n->inputs) slices.push_back(placement.at(in->name)->offset);
      }
      concat_slices_.push_back(std::move(slices));
      std::vector<PlannedOutput> outs(n->outputs.size());
      bool view = false;
      for (size_t o = 0; o < n->outputs.size(); ++o) {
        auto it = n->outputs[o] ? placement.find(n->outputs[o]->name) : placement.end();
        if (it == placement.end()) continue;
        const TensorPlacement& t = *it->second;
        view |= !t.alias_of.empty();
        outs[o] = {t.alias_of.empty(), t.offset, t.bytes, !t.in_place_of.empty()};
      }
      planned_.push_back(std::move(outs));
      is_view_.push_back(view);
    }
  }
}

bool CpuExecutionContext::use_arena(const std::map<std::string, Tensor>& inputs) {
  const std::optional<MemoryPlan>& plan = engine_->memory;
  if (!plan || arena_failed_) return false;
  for (const auto& [name, shape] : plan->input_shapes) {
    auto it = inputs.find(name);
    if (it == inputs.end() || it->second.shape() != shape) return false;
  }
  if (!arena_) {
    // 64 spare bytes past the end, as every kiln tensor has, for kernels that load full vectors.
    size_t bytes = plan->arena_bytes + 64;
    try {
      void* p = ::operator new[](bytes, std::align_val_t(64));
      arena_ =
          std::shared_ptr<void>(p, [](void* q) { ::operator delete[](q, std::align_val_t(64)); });
    } catch (const std::bad_alloc&) {
      log(Severity::kWarning, cat("cannot allocate the ", plan->arena_bytes,
                                  "-byte activation arena; allocating activations one by one"));
      arena_failed_ = true;
      return false;
    }
  }
  return true;
}

namespace {

// The concrete shape of `node`'s output 0 for these inputs.
Shape output_shape(const ir::Node& node, const std::vector<const Tensor*>& inputs) {
  std::vector<std::optional<ir::TensorType>> types;
  for (const Tensor* t : inputs) {
    if (t) {
      types.push_back(ir::TensorType{t->dtype(), ir::to_sym_shape(t->shape()), t});
    } else {
      types.emplace_back();
    }
  }
  auto outs = ir::infer_node(node, std::move(types), ErrorCode::kInvalidArgument);
  std::optional<Shape> shape;
  if (outs[0] && outs[0]->shape) shape = ir::to_concrete(*outs[0]->shape);
  if (!shape) fail(ErrorCode::kInternal, node.describe(), ": output shape unknown at run time");
  return *shape;
}

}  // namespace

Tensor CpuExecutionContext::view_output(const ir::Node& node,
                                        const std::vector<const Tensor*>& inputs) const {
  return inputs[0]->reshaped(output_shape(node, inputs));
}

Tensor CpuExecutionContext::assembled_concat(size_t i, const std::vector<const Tensor*>& inputs,
                                             uint8_t* base) const {
  // The plan was checked when the engine was made; this checks what the layers did this run
  // (each wrote its planned bytes) and, where the graph's shapes were symbolic, that the run's
  // shapes keep each input contiguous in the output.
  const ir::Node& node = *nodes_[i];
  const std::vector<uint64_t>& slices = concat_slices_[i];
  const PlannedOutput& out = planned_[i][0];
  if (inputs.size() != slices.size()) return Tensor();
  for (const Tensor* t : inputs) {
    if (!t) return Tensor();
  }
  Shape shape = output_shape(node, inputs);
  if (!out.placed || !concat_inputs_are_contiguous(shape, node.attrs.get_int("axis")) ||
      static_cast<uint64_t>(shape_numel(shape)) * element_size(inputs[0]->dtype()) != out.bytes) {
    return Tensor();
  }
  uint64_t expected = out.offset;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (inputs[k]->raw() != base + slices[k] || slices[k] != expected) {
      return Tensor();
    }
    expected += inputs[k]->nbytes();
  }
  if (expected != out.offset + out.bytes) return Tensor();
  return Tensor::borrow(inputs[0]->dtype(), std::move(shape), base + out.offset, arena_);
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
  for (size_t k = 0; k < g.inputs().size(); ++k) {
    const ir::Value* v = g.inputs()[k];
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
    slots[input_slots_[k]] = t;
  }
}

std::vector<Tensor> CpuExecutionContext::execute(const std::map<std::string, Tensor>& inputs) {
  // Profiled runs: the clock after each layer; a layer's time runs from the previous reading.
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> layer_ends;
  if (profiler_) layer_ends.reserve(nodes_.size() + 1);
  if (profiler_) layer_ends.push_back(Clock::now());
  std::vector<Tensor> slots(slot_values_.size());
  bind_inputs(inputs, slots);
  const bool arena = use_arena(inputs);
  auto* base = static_cast<uint8_t*>(arena_.get());
  std::vector<const Tensor*> ins;
  std::vector<cpu::OutputMemory> memory;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ir::Node& node = *nodes_[i];
    ins.clear();
    for (size_t s : node_inputs_[i]) ins.push_back(s == kNone ? nullptr : &slots[s]);
    std::vector<Tensor> outs;
    memory.clear();
    Tensor assembled;
    if (arena && !concat_slices_[i].empty()) assembled = assembled_concat(i, ins, base);
    if (arena && is_view_[i]) {
      outs.push_back(view_output(node, ins));
    } else if (assembled.defined()) {
      outs.push_back(std::move(assembled));
    } else if (arena && !concat_slices_[i].empty()) {
      // Some input is not where the plan put it: copy into a fresh output, never over the inputs.
      outs = cpu::run_node(*kernels_[i], node, ins);
    } else {
      if (arena) {
        for (const PlannedOutput& p : planned_[i]) {
          memory.push_back(p.placed ? cpu::OutputMemory{base + p.offset, p.bytes, !p.in_place}
                                    : cpu::OutputMemory{});
        }
      }
      outs = cpu::run_node(*kernels_[i], node, ins, memory, arena_);
    }
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
    if (profiler_) layer_ends.push_back(Clock::now());
  }
  for (size_t i = 0; i + 1 < layer_ends.size(); ++i) {
    std::chrono::duration<double, std::milli> ms = layer_ends[i + 1] - layer_ends[i];
    profiler_->report_layer_time({nodes_[i]->name, nodes_[i]->op, ms.count()});
  }
  std::vector<Tensor> result;
  for (size_t s : output_slots_) {
    // Arena bytes are rewritten by the next run, so the caller gets its own copy.
    result.push_back(arena ? slots[s].clone() : slots[s]);
  }
  return result;
}

}  // namespace kiln
