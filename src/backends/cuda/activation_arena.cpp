// Lifetime packing and view folding for CUDA activations (see activation_arena.hpp).
#include "backends/cuda/activation_arena.hpp"

#include <algorithm>
#include <vector>

#include "builder/arena_layout.hpp"
#include "builder/memory_plan.hpp"

namespace kiln::cuda {

ActivationArena plan_activation_arena(const ir::Graph& graph,
                                      const std::function<size_t(const ir::Value&)>& bytes_of) {
  ActivationArena arena;
  auto is_activation = [&](const ir::Value* v) {
    return v && !v->is_constant() && !graph.is_graph_input(v) && !graph.is_graph_output(v);
  };
  // Each activation's buffer: its own, or (for a view) the buffer of the value it views.
  std::unordered_map<const ir::Value*, size_t> buffer_of;
  std::vector<builder::LiveRange> ranges;
  std::vector<const ir::Value*> roots;
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    auto step = static_cast<int64_t>(i);
    for (const ir::Value* in : n.inputs) {
      auto it = in ? buffer_of.find(in) : buffer_of.end();
      if (it != buffer_of.end()) ranges[it->second].last = std::max(ranges[it->second].last, step);
    }
    const ir::Value* source = n.inputs.empty() ? nullptr : n.inputs[0];
    bool view = is_alias_op(n.op) && n.outputs.size() == 1 && is_activation(n.outputs[0]) &&
                buffer_of.count(source) && source->dtype == n.outputs[0]->dtype;
    if (view) {
      buffer_of[n.outputs[0]] = buffer_of.at(source);
      arena.views.insert(&n);
      continue;
    }
    for (const ir::Value* out : n.outputs) {
      if (!is_activation(out)) continue;
      size_t bytes = std::max<size_t>(bytes_of(*out), 1);
      buffer_of[out] = ranges.size();
      ranges.push_back({bytes, step, step});
      roots.push_back(out);
      arena.unshared_bytes += builder::align_to_arena(bytes);
    }
  }
  builder::ArenaLayout layout = builder::assign_offsets(ranges);
  for (const auto& [value, buffer] : buffer_of) arena.offset[value] = layout.offsets[buffer];
  arena.bytes = layout.size;
  return arena;
}

}  // namespace kiln::cuda
