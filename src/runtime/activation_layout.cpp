// Tensor locations from a memory plan, or from lifetime packing (see activation_layout.hpp).
#include "runtime/activation_layout.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "builder/arena_layout.hpp"
#include "core/error.hpp"
#include "ir/op_traits.hpp"

namespace kiln {
namespace {

using Kind = TensorLocation::Kind;

// Where the tensors every backend reads as they are live: graph inputs in their bound buffers,
// constants in the engine's copies.
void locate_inputs_and_constants(const ir::Graph& graph, ActivationLayout& layout) {
  for (const ir::Value* v : graph.inputs()) layout.location[v] = {Kind::kBound, 0, v};
  for (const auto& n : graph.nodes()) {
    for (const ir::Value* in : n->inputs) {
      if (in && in->is_constant())
        layout.location.emplace(in, TensorLocation{Kind::kConstant, 0, in});
    }
  }
}

// Why `plan` was made for other input shapes than `graph`'s static ones, or "".
std::string input_shape_mismatch(const ir::Graph& graph, const MemoryPlan& plan) {
  for (const ir::Value* v : graph.inputs()) {
    auto planned = plan.input_shapes.find(v->name);
    auto shape = v->shape ? ir::to_concrete(*v->shape) : std::nullopt;
    if (planned != plan.input_shapes.end() && shape && *shape != planned->second) {
      return cat("it was made for input '", v->name, "' of shape ",
                 shape_to_string(planned->second), ", the graph's is ", shape_to_string(*shape));
    }
  }
  return "";
}

}  // namespace

ActivationLayout follow_memory_plan(const ir::Graph& graph, const MemoryPlan& plan) {
  std::string problem;
  try {
    problem = memory_plan_problem(graph, plan);
  } catch (const Error& e) {  // e.g. a tensor whose dims overflow when multiplied
    problem = e.what();
  }
  if (problem.empty()) problem = input_shape_mismatch(graph, plan);
  if (!problem.empty()) {
    fail(ErrorCode::kInvalidPlan, "the memory plan of graph '", graph.name,
         "' does not fit it: ", problem);
  }
  ActivationLayout layout;
  layout.arena_bytes = plan.arena_bytes;
  locate_inputs_and_constants(graph, layout);
  std::unordered_map<std::string, const TensorPlacement*> placement;
  for (const TensorPlacement& t : plan.tensors) placement.emplace(t.name, &t);
  const std::set<std::string> assembled = assembled_concats(plan);
  // memory_plan_problem found every placement below where the graph allows it: a view's source
  // is its layer's input 0 and was located before it.
  for (const auto& n : graph.nodes()) {
    bool skip = n->outputs.size() == 1 && n->output(0);
    for (const ir::Value* v : n->outputs) {
      if (!v) continue;
      if (graph.is_graph_output(v)) {
        layout.location[v] = {Kind::kBound, 0, v};
        skip = false;
        continue;
      }
      const TensorPlacement& t = *placement.at(v->name);
      layout.location[v] = t.alias_of.empty() ? TensorLocation{Kind::kArena, t.offset, nullptr}
                                              : layout.location.at(n->input(0));
      skip = skip && (!t.alias_of.empty() || assembled.count(v->name) != 0);
    }
    if (skip) layout.skipped.insert(n.get());
  }
  return layout;
}

ActivationLayout pack_activations(const ir::Graph& graph,
                                  const std::function<uint64_t(const ir::Value&)>& bytes_of) {
  ActivationLayout layout;
  locate_inputs_and_constants(graph, layout);
  auto is_activation = [&](const ir::Value* v) {
    return v && !v->is_constant() && !graph.is_graph_input(v) && !graph.is_graph_output(v);
  };
  // Each activation's buffer: its own, or (for a view) the buffer of the tensor it views.
  std::unordered_map<const ir::Value*, size_t> buffer_of;
  std::vector<builder::LiveRange> ranges;
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    auto step = static_cast<int64_t>(i);
    for (const ir::Value* in : n.inputs) {
      auto it = in ? buffer_of.find(in) : buffer_of.end();
      if (it != buffer_of.end()) ranges[it->second].last = std::max(ranges[it->second].last, step);
    }
    for (const ir::Value* out : n.outputs) {
      if (out && graph.is_graph_output(out)) layout.location[out] = {Kind::kBound, 0, out};
    }
    const ir::Value* source = n.input(0);
    bool view = ir::op_traits(n).view && n.outputs.size() == 1 && is_activation(n.outputs[0]) &&
                buffer_of.count(source) && source->dtype == n.outputs[0]->dtype;
    if (view) {
      buffer_of[n.outputs[0]] = buffer_of.at(source);
      layout.skipped.insert(&n);
      continue;
    }
    for (const ir::Value* out : n.outputs) {
      if (!is_activation(out)) continue;
      buffer_of[out] = ranges.size();
      ranges.push_back({std::max<uint64_t>(bytes_of(*out), 1), step, step});
    }
  }
  builder::ArenaLayout packed = builder::assign_offsets(ranges);
  for (const auto& [value, buffer] : buffer_of) {
    layout.location[value] = {Kind::kArena, packed.offsets[buffer], nullptr};
  }
  layout.arena_bytes = packed.size;
  return layout;
}

}  // namespace kiln
