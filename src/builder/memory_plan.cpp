// Lifetimes of activations and the safety check every memory plan passes, whether the builder
// just made it or it comes from a plan file.
#include "builder/memory_plan.hpp"

#include <unordered_map>
#include <unordered_set>

#include "builder/arena_layout.hpp"
#include "core/error.hpp"
#include "ir/op_traits.hpp"

namespace kiln {

using builder::align_to_arena;
using builder::kArenaAlignment;
using builder::LiveRange;

namespace {

// The largest tensor kiln allocates (as in backends/cpu/run_node.hpp).
constexpr uint64_t kMaxPlacedBytes = uint64_t{64} << 30;

using PlacementMap = std::unordered_map<std::string, const TensorPlacement*>;

// Why the inputs of `concat` cannot be the slices of its output `out`, or "": every input is a
// distinct layer output (not a graph output) placed into `out`, input k at `out`'s offset plus the
// bytes of inputs 0..k-1, all together exactly `out`'s bytes, and (where the graph's shapes are
// concrete) each input is one contiguous range of the output.
std::string concat_slices_problem(const std::unordered_set<const ir::Value*>& graph_outputs,
                                  const ir::Node& concat, const TensorPlacement& out,
                                  const PlacementMap& by_name) {
  if (concat.op != "Concat" || !concat.domain.empty() || concat.outputs.size() != 1 ||
      !concat.output(0) || concat.output(0)->name != out.name) {
    return cat("tensors cannot be written into '", out.name, "' (", concat.describe(),
               " is no Concat writing it)");
  }
  if (!out.alias_of.empty() || !out.in_place_of.empty()) {
    return cat("concat output '", out.name, "' must have bytes of its own to hold its inputs");
  }
  if (concat.inputs.empty()) return cat(concat.describe(), " has no inputs to write into it");
  std::unordered_map<const ir::Value*, int> seen;
  uint64_t slice = 0;
  for (const ir::Value* in : concat.inputs) {
    const TensorPlacement* t = nullptr;
    if (in) {
      auto it = by_name.find(in->name);
      if (it != by_name.end()) t = it->second;
    }
    if (!t || t->concat_into != out.name || graph_outputs.count(in) || seen[in]++) {
      return cat("every input of ", concat.describe(), " must be a distinct layer output written ",
                 "into '", out.name, "', and no graph output ('",
                 in ? in->name : std::string("omitted"), "' is not)");
    }
    if (!t->alias_of.empty() || !t->in_place_of.empty() || t->bytes > kMaxPlacedBytes ||
        t->offset != out.offset + slice || t->offset % kArenaAlignment != 0) {
      return cat("tensor '", t->name, "' is not at its slice of '", out.name, "' (offset ",
                 out.offset + slice, ")");
    }
    slice += t->bytes;
  }
  if (slice != out.bytes) {
    return cat("the inputs of ", concat.describe(), " fill ", slice, " of its ", out.bytes,
               " bytes");
  }
  const ir::Value* v = concat.output(0);
  if (v->shape) {
    auto s = ir::to_concrete(*v->shape);
    if (s && !concat_inputs_are_contiguous(*s, concat.attrs.get_int("axis"))) {
      return cat("the inputs of ", concat.describe(), " are not contiguous in its output ",
                 shape_to_string(*s), ", so they cannot be written into it");
    }
  }
  return "";
}

}  // namespace

bool concat_inputs_are_contiguous(const Shape& out, int64_t axis) {
  auto rank = static_cast<int64_t>(out.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return false;
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
  return outer == 1;
}

std::set<std::string> assembled_concats(const MemoryPlan& plan) {
  std::set<std::string> out;
  for (const TensorPlacement& t : plan.tensors) {
    if (!t.concat_into.empty()) out.insert(t.concat_into);
  }
  return out;
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
  const bool outputs_outside = plan.graph_outputs == GraphOutputMemory::kCaller;
  std::unordered_map<std::string, const TensorPlacement*> by_name;
  for (const TensorPlacement& t : plan.tensors) {
    if (!by_name.emplace(t.name, &t).second) return cat("tensor '", t.name, "' is placed twice");
    const ir::Value* v = outputs_outside ? graph.find_value(t.name) : nullptr;
    if (v && graph.is_graph_output(v)) {
      return cat("graph output '", t.name,
                 "' lives in the caller's buffer, yet the plan places it");
    }
  }
  for (const auto& [name, shape] : plan.input_shapes) {
    const ir::Value* v = graph.find_value(name);
    if (!v || !graph.is_graph_input(v)) return cat("'", name, "' is not an input of the graph");
    for (int64_t d : shape) {
      if (d < 0) return cat("input '", name, "' is planned with shape ", shape_to_string(shape));
    }
  }
  auto life = activation_lifetimes(graph);
  const std::unordered_set<const ir::Value*> graph_outputs(graph.outputs().begin(),
                                                           graph.outputs().end());
  // Tensors sharing bytes (a view, an in-place write) form one buffer, alive from its first
  // writer to its last reader. External buffers (graph inputs, constants) are not in the arena.
  constexpr size_t kExternal = static_cast<size_t>(-1);
  std::unordered_map<const ir::Value*, size_t> buffer_of;
  std::vector<LiveRange> buffers;
  std::vector<uint64_t> offsets;
  std::vector<bool> holds_graph_output;  // per buffer: nothing may be written over it
  uint64_t placed_bytes = 0;
  auto buffer_of_input = [&](const ir::Value* v) {
    auto it = buffer_of.find(v);
    return it == buffer_of.end() ? kExternal : it->second;
  };
  auto place_buffer = [&](const TensorPlacement& t, int64_t step) -> std::string {
    if (t.offset % kArenaAlignment != 0 || t.offset > plan.arena_bytes ||
        t.bytes > plan.arena_bytes - t.offset) {
      return cat("tensor '", t.name, "' (", t.bytes, " bytes at offset ", t.offset,
                 ") lies outside the ", plan.arena_bytes, "-byte arena");
    }
    buffers.push_back({t.bytes, step, step});
    offsets.push_back(t.offset);
    holds_graph_output.push_back(false);
    placed_bytes += align_to_arena(t.bytes);
    return "";
  };
  const auto& nodes = graph.nodes();
  std::unordered_map<std::string, size_t> producer;  // value name -> layer index
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const ir::Value* v : nodes[i]->outputs) {
      if (v) producer.emplace(v->name, i);
    }
  }
  // Tensors written into a Concat's output share the buffer of the outermost Concat their
  // concat_into chain leads to (Concats may nest), made at the first layer writing into it. Each
  // Concat's slices are checked the first time one of its inputs is written.
  std::unordered_map<std::string, size_t> concat_buffer;       // concat output -> buffer
  std::unordered_map<const ir::Value*, std::string> slice_of;  // checked input -> its concat
  auto concat_buffer_of = [&](const ir::Value* v, const TensorPlacement* t, size_t layer,
                              int64_t step, std::string& problem) -> size_t {
    std::vector<std::string> checked;  // Concats whose slices this call checked
    size_t b = kExternal;
    while (true) {
      const std::string& name = t->concat_into;
      auto made = concat_buffer.find(name);
      auto at = producer.find(name);
      auto parent = by_name.find(name);
      // Layers are checked in order and each link goes to a later layer, so this ends.
      if (parent == by_name.end() || at == producer.end() || at->second <= layer) {
        problem = cat("tensor '", t->name, "' cannot be written into '", name,
                      "' (no later layer writes it)");
        return kExternal;
      }
      const ir::Node& concat = *nodes[at->second];
      if (made != concat_buffer.end()) {
        b = made->second;
      } else {
        problem = concat_slices_problem(graph_outputs, concat, *parent->second, by_name);
        if (!problem.empty()) return kExternal;
        for (const ir::Value* in : concat.inputs) slice_of[in] = name;
        checked.push_back(name);
      }
      auto in = slice_of.find(v);
      if (in == slice_of.end() || in->second != name) {
        problem = cat("tensor '", t->name, "' is no input of ", concat.describe());
        return kExternal;
      }
      if (b != kExternal) break;
      t = parent->second;
      if (t->concat_into.empty()) {  // the outermost Concat: its bytes are the buffer
        problem = place_buffer(*t, step);
        if (!problem.empty()) return kExternal;
        b = buffers.size() - 1;
        break;
      }
      v = concat.output(0);  // a Concat written into an outer one: up a level
      layer = at->second;
    }
    for (const std::string& name : checked) concat_buffer[name] = b;
    return b;
  };
  size_t placed_tensors = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    auto step = static_cast<int64_t>(i);
    for (const ir::Value* v : n.outputs) {
      if (!v) continue;
      if (outputs_outside && graph_outputs.count(v)) {
        buffer_of[v] = kExternal;  // the caller's buffer, like a graph input
        continue;
      }
      ++placed_tensors;
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
      if (!t.concat_into.empty()) {
        std::string problem;
        b = concat_buffer_of(v, &t, i, step, problem);
        if (!problem.empty()) return problem;
      } else if (auto made = concat_buffer.find(t.name); made != concat_buffer.end()) {
        b = made->second;  // the concat output its inputs were written into
      } else if (!t.alias_of.empty()) {
        if (!ir::op_traits(n).view || !n.input(0) || n.input(0)->name != t.alias_of ||
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
        // Only layers whose kernels read each element before writing it may overwrite an input.
        if (b == kExternal || holds_graph_output[b] || !ir::op_traits(n).safe_in_place ||
            n.outputs.size() != 1 || offsets[b] != t.offset ||
            align_to_arena(buffers[b].bytes) != align_to_arena(t.bytes) ||
            buffers[b].last != step) {
          return cat("tensor '", t.name, "' cannot overwrite '", t.in_place_of, "' (", n.describe(),
                     ")");
        }
      } else {
        std::string problem = place_buffer(t, step);
        if (!problem.empty()) return problem;
        b = buffers.size() - 1;
      }
      buffer_of[v] = b;
      if (b != kExternal) {
        buffers[b].last = std::max(buffers[b].last, lt.last);
        holds_graph_output[b] = holds_graph_output[b] || graph_outputs.count(v) != 0;
      }
    }
  }
  if (by_name.size() != placed_tensors) return "the plan places tensors that no layer writes";
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
