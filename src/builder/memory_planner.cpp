// Memory planning: views for the layers the op table marks as views (Reshape...), layers marked
// safe in place written over a dying input, Concat inputs written straight into their slice of
// the output, then greedy placement of the remaining buffers in one arena.
#include "builder/memory_planner.hpp"

#include <set>
#include <unordered_set>

#include "builder/arena_layout.hpp"
#include "core/error.hpp"
#include "ir/op_traits.hpp"

namespace kiln::builder {

namespace {

uint64_t byte_size(const ir::Value* v, const StaticShapes& shapes) {
  auto it = shapes.values.find(v);
  if (it == shapes.values.end()) {
    fail(ErrorCode::kInternal, "memory planner: tensor '", v->name, "' has no static shape");
  }
  return static_cast<uint64_t>(shape_numel(it->second)) * element_size(v->dtype);
}

// Where a Concat input goes: into `concat`'s output (named in the plan), whose bytes are part
// of the buffer of `root`, the outermost Concat (itself when not nested), `offset` bytes in.
struct ConcatSlice {
  const ir::Value* concat = nullptr;
  const ir::Value* root = nullptr;
  uint64_t offset = 0;
};

// The Concat layers whose inputs can be written straight into their output: the output's dims
// before the axis are all 1, so input k is one contiguous range, just after input k-1
// (concat_inputs_are_contiguous); each input is the output of a layer that writes its own bytes
// (no view, no graph input or constant), is no graph output, is not given twice and is in no
// other eliminated Concat (Concats are taken last to first, so the later one takes it); and
// every slice starts 64-byte aligned, as a fresh tensor does, so kernels see the alignment they
// always see and none writes into a neighbouring slice when it rounds its output up to whole
// vectors. A Concat whose output is itself a slice of a later one is eliminated too: its inputs
// then lie inside the later one's output (Inception's nested concats, DenseNet's growing ones).
// With kCaller a Concat producing a graph output is kept: its slices would lie in the caller's
// buffer, which is no part of the arena.
std::unordered_map<const ir::Value*, ConcatSlice> plan_concat_slices(const ir::Graph& graph,
                                                                     const StaticShapes& shapes,
                                                                     GraphOutputMemory outputs) {
  std::unordered_map<const ir::Value*, ConcatSlice> slices;
  const std::unordered_set<const ir::Value*> graph_inputs(graph.inputs().begin(),
                                                          graph.inputs().end());
  const std::unordered_set<const ir::Value*> graph_outputs(graph.outputs().begin(),
                                                           graph.outputs().end());
  std::unordered_map<const ir::Value*, const ir::Node*> producer;
  for (const auto& n : graph.nodes()) {
    for (const ir::Value* v : n->outputs) {
      if (v) producer.emplace(v, n.get());
    }
  }
  const auto& nodes = graph.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const ir::Node& n = **it;
    const ir::Value* out = n.output(0);
    if (n.op != "Concat" || !n.domain.empty() || n.outputs.size() != 1 || !out ||
        n.inputs.empty() || !n.attrs.has("axis") ||
        (outputs == GraphOutputMemory::kCaller && graph_outputs.count(out))) {
      continue;
    }
    auto shape = shapes.values.find(out);
    if (shape == shapes.values.end() ||
        !concat_inputs_are_contiguous(shape->second, n.attrs.get_int("axis"))) {
      continue;
    }
    // Where this Concat's own output lies: in an outer Concat's buffer, or its own.
    auto outer = slices.find(out);
    const ir::Value* root = outer != slices.end() ? outer->second.root : out;
    uint64_t base = outer != slices.end() ? outer->second.offset : 0;
    std::set<const ir::Value*> seen;
    std::vector<ConcatSlice> here;
    uint64_t offset = 0;
    for (const ir::Value* in : n.inputs) {
      auto p = in ? producer.find(in) : producer.end();
      bool ok = p != producer.end() && !in->is_constant() && !graph_inputs.count(in) &&
                !graph_outputs.count(in) && !ir::op_traits(*p->second).view &&
                in->dtype == out->dtype && seen.insert(in).second && !slices.count(in) &&
                offset % kArenaAlignment == 0;
      if (!ok) break;
      here.push_back({out, root, base + offset});
      offset += byte_size(in, shapes);
    }
    if (here.size() != n.inputs.size() || offset != byte_size(out, shapes)) continue;
    for (size_t k = 0; k < here.size(); ++k) slices[n.inputs[k]] = here[k];
  }
  return slices;
}

}  // namespace

MemoryPlan plan_memory(const ir::Graph& graph, const StaticShapes& shapes,
                       GraphOutputMemory graph_output_memory) {
  MemoryPlan plan;
  plan.input_shapes = shapes.inputs;
  plan.graph_outputs = graph_output_memory;
  auto life = activation_lifetimes(graph);
  std::set<const ir::Value*> graph_outputs(graph.outputs().begin(), graph.outputs().end());
  // Buffers: tensors sharing bytes. kExternal: bytes kiln does not place (inputs, constants).
  constexpr size_t kExternal = static_cast<size_t>(-1);
  struct Buffer {
    LiveRange range;
    bool holds_graph_output = false;
    std::vector<size_t> tensors;  // indices into plan.tensors
  };
  std::vector<Buffer> buffers;
  std::unordered_map<const ir::Value*, size_t> buffer_of;
  auto concat_slices = plan_concat_slices(graph, shapes, graph_output_memory);
  // An outermost eliminated Concat's buffer is made at the layer writing its first input (nested
  // Concats' included), alive at least until its output's last reader.
  std::unordered_map<const ir::Value*, size_t> concat_buffer;
  std::vector<uint64_t> slice_offset;  // per plan.tensors entry: bytes into its buffer
  auto buffer_of_input = [&](const ir::Value* v) {
    auto it = buffer_of.find(v);
    return it == buffer_of.end() ? kExternal : it->second;
  };
  // A view extends its source's lifetime, so the lifetime of a buffer is only final once every
  // view of it is known; views are made at the layer reading the source, so by the time layer i
  // runs, a buffer whose members are all last read at i does die at i.
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ir::Node& n = *nodes[i];
    auto step = static_cast<int64_t>(i);
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const ir::Value* v = n.outputs[o];
      if (!v) continue;
      if (graph_output_memory == GraphOutputMemory::kCaller && graph_outputs.count(v)) {
        buffer_of[v] = kExternal;  // the caller's buffer, like a graph input
        continue;
      }
      TensorPlacement t;
      t.name = v->name;
      t.bytes = byte_size(v, shapes);
      size_t b = kExternal;
      const ir::Value* in0 = n.input(0);
      uint64_t slice = 0;
      auto into = concat_slices.find(v);
      const ir::Value* root = into != concat_slices.end() ? into->second.root : nullptr;
      if (root || concat_buffer.count(v)) {
        if (root) {
          t.concat_into = into->second.concat->name;
          slice = into->second.offset;
        } else {
          root = v;  // an outermost eliminated Concat's own output, its buffer made by its inputs
        }
        auto made = concat_buffer.find(root);
        if (made == concat_buffer.end()) {
          made = concat_buffer.emplace(root, buffers.size()).first;
          buffers.push_back({{byte_size(root, shapes), step, life.at(root).last}, false, {}});
        }
        b = made->second;
      } else if (ir::op_traits(n).view && n.outputs.size() == 1 && in0 && in0->dtype == v->dtype) {
        t.alias_of = in0->name;
        b = buffer_of_input(in0);
      } else {
        if (ir::op_traits(n).safe_in_place && n.outputs.size() == 1) {
          for (const ir::Value* in : n.inputs) {
            size_t src = in ? buffer_of_input(in) : kExternal;
            if (src == kExternal || in->dtype != v->dtype) continue;
            const Buffer& sb = buffers[src];
            if (sb.holds_graph_output || sb.range.last != step) continue;
            if (align_to_arena(sb.range.bytes) != align_to_arena(t.bytes)) continue;
            if (byte_size(in, shapes) != t.bytes) continue;
            t.in_place_of = in->name;
            b = src;
            break;
          }
        }
        if (b == kExternal) {
          b = buffers.size();
          buffers.push_back({{t.bytes, step, step}, false, {}});
        }
      }
      if (b != kExternal) {
        Buffer& buf = buffers[b];
        buf.range.last = std::max(buf.range.last, life.at(v).last);
        buf.holds_graph_output |= graph_outputs.count(v) != 0;
        buf.tensors.push_back(plan.tensors.size());
      }
      plan.total_bytes += t.bytes;
      buffer_of[v] = b;
      slice_offset.push_back(slice);
      plan.tensors.push_back(std::move(t));
    }
  }
  std::vector<LiveRange> ranges;
  for (const Buffer& b : buffers) ranges.push_back(b.range);
  ArenaLayout layout = assign_offsets(ranges);
  for (size_t b = 0; b < buffers.size(); ++b) {
    for (size_t t : buffers[b].tensors) {
      plan.tensors[t].offset = layout.offsets[b] + slice_offset[t];
    }
  }
  plan.arena_bytes = layout.size;
  plan.lower_bound_bytes = live_bytes_lower_bound(ranges);
  std::string problem = memory_plan_problem(graph, plan);
  if (!problem.empty()) {
    fail(ErrorCode::kInternal, "memory planner made an unsafe plan for graph '", graph.name,
         "': ", problem);
  }
  return plan;
}

}  // namespace kiln::builder
