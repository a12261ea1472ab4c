// Lifetimes of activations and the safety check every memory plan passes, whether the builder
// just made it or it comes from a plan file.
#include "build/memory_plan.hpp"

#include <unordered_map>

#include "build/arena_layout.hpp"
#include "core/error.hpp"

namespace kiln {

using build::align_to_arena;
using build::kArenaAlignment;
using build::LiveRange;

namespace {

// The largest tensor kiln allocates (as in backends/cpu/run_node.hpp).
constexpr uint64_t kMaxPlacedBytes = uint64_t{64} << 30;

}  // namespace

bool is_alias_op(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
         op == "Identity";
}

std::map<const ir::Value*, ValueLifetime> activation_lifetimes(const ir::Graph& graph) {
  std::map<const ir::Value*, ValueLifetime> life;
  const auto& nodes = graph.nodes();
  const auto end = static_cast<int64_t>(nodes.size()) - 1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto step = static_cast<int64_t>(i);
    for (const ir::Value* v : nodes[i]->inputs) {
      auto it = v ? life.find(v) : life.end();
      if (it != life.end()) it->second.last = std::max(it->second.last, step);
    }
    for (const ir::Value* v : nodes[i]->outputs) {
      if (v) life[v] = {step, step};
    }
  }
  for (const ir::Value* v : graph.outputs()) {
    auto it = life.find(v);
    if (it != life.end()) it->second.last = std::max(it->second.last, end);
  }
  return life;
}

std::string memory_plan_problem(const ir::Graph& graph, const MemoryPlan& plan) {
  std::unordered_map<std::string, const TensorPlacement*> by_name;
  for (const TensorPlacement& t : plan.tensors) {
    if (!by_name.emplace(t.name, &t).second) return cat("tensor '", t.name, "' is placed twice");
  }
  for (const auto& [name, shape] : plan.input_shapes) {
    const ir::Value* v = graph.find_value(name);
    if (!v || !graph.is_graph_input(v)) return cat("'", name, "' is not an input of the graph");
    for (int64_t d : shape) {
      if (d < 0) return cat("input '", name, "' is planned with shape ", shape_to_string(shape));
    }
  }
  auto life = activation_lifetimes(graph);
  // Tensors sharing bytes (a view, an in-place write) form one buffer, alive from its first
  // writer to its last reader. External buffers (graph inputs, constants) are not in the arena.
  constexpr size_t kExternal = static_cast<size_t>(-1);
  std::unordered_map<const ir::Value*, size_t> buffer_of;
  std::vector<LiveRange> buffers;
  std::vector<uint64_t> offsets;
  uint64_t placed_bytes = 0;
  auto buffer_of_input = [&](const ir::Value* v) {
    auto it = buffer_of.find(v);
    return it == buffer_of.end() ? kExternal : it->second;
  };
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    auto step = static_cast<int64_t>(i);
    for (const ir::Value* v : n.outputs) {
      if (!v) continue;
      auto it = by_name.find(v->name);
      if (it == by_name.end()) return cat("layer output '", v->name, "' has no placement");
      const TensorPlacement& t = *it->second;
      if (t.bytes > kMaxPlacedBytes) return cat("tensor '", t.name, "' claims ", t.bytes, " bytes");
      if (v->shape) {
        if (auto s = ir::to_concrete(*v->shape)) {
          uint64_t want = static_cast<uint64_t>(shape_numel(*s)) * element_size(v->dtype);
          if (want != t.bytes) {
            return cat("tensor '", t.name, "' of ", want, " bytes is given ", t.bytes);
          }
        }
      }
      const ValueLifetime& lt = life.at(v);
      size_t b;
      if (!t.alias_of.empty()) {
        if (!is_alias_op(n.op) || !n.input(0) || n.input(0)->name != t.alias_of ||
            n.outputs.size() != 1) {
          return cat("tensor '", t.name, "' cannot be a view of '", t.alias_of, "' (", n.describe(),
                     ")");
        }
        b = buffer_of_input(n.input(0));
      } else if (!t.in_place_of.empty()) {
        const ir::Value* src = nullptr;
        for (const ir::Value* in : n.inputs) {
          if (in && in->name == t.in_place_of) src = in;
        }
        b = src ? buffer_of_input(src) : kExternal;
        if (b == kExternal || n.outputs.size() != 1 || offsets[b] != t.offset ||
            align_to_arena(buffers[b].bytes) != align_to_arena(t.bytes) ||
            buffers[b].last != step) {
          return cat("tensor '", t.name, "' cannot overwrite '", t.in_place_of, "' (", n.describe(),
                     ")");
        }
      } else {
        if (t.offset % kArenaAlignment != 0 || t.offset > plan.arena_bytes ||
            t.bytes > plan.arena_bytes - t.offset) {
          return cat("tensor '", t.name, "' (", t.bytes, " bytes at offset ", t.offset,
                     ") lies outside the ", plan.arena_bytes, "-byte arena");
        }
        b = buffers.size();
        buffers.push_back({t.bytes, step, step});
        offsets.push_back(t.offset);
        placed_bytes += align_to_arena(t.bytes);
      }
      buffer_of[v] = b;
      if (b != kExternal) buffers[b].last = std::max(buffers[b].last, lt.last);
    }
  }
  if (by_name.size() != buffer_of.size()) return "the plan places tensors that no layer writes";
  if (plan.arena_bytes > placed_bytes) {
    return cat("its ", plan.arena_bytes, "-byte arena is larger than all its tensors together (",
               placed_bytes, " bytes)");
  }
  if (auto clash = find_overlap(buffers, offsets)) {
    return cat("two tensors alive at the same layer share bytes (offsets ", offsets[clash->first],
               " and ", offsets[clash->second], ")");
  }
  return "";
}

}  // namespace kiln
