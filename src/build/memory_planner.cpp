// Memory planning: views for Reshape-like layers, in-place elementwise layers, then greedy
// placement of the remaining buffers in one arena.
#include "build/memory_planner.hpp"

#include <set>

#include "build/arena_layout.hpp"
#include "core/error.hpp"

namespace kiln::build {

bool may_run_in_place(const std::string& op) {
  // Elementwise kernels built on map_unary / map_binary (backends/cpu/elementwise_loops.hpp):
  // out[i] depends on in[i] only, read before out[i] is written. Variadic ops (Sum, Max..) and
  // Where are left out: their kernels make several passes over the output.
  static const std::set<std::string> kOps = {
      "Relu",  "LeakyRelu", "Sigmoid", "Tanh",     "HardSigmoid", "HardSwish", "Gelu",
      "Elu",   "Selu",      "Celu",    "Softplus", "Softsign",    "Mish",      "ThresholdedRelu",
      "Clip",  "Exp",       "Log",     "Sqrt",     "Reciprocal",  "Floor",     "Ceil",
      "Round", "Sin",       "Cos",     "Tan",      "Erf",         "Abs",       "Neg",
      "Sign",  "Add",       "Sub",     "Mul",      "Div",         "Pow"};
  return kOps.count(op) != 0;
}

namespace {

uint64_t byte_size(const ir::Value* v, const StaticShapes& shapes) {
  auto it = shapes.values.find(v);
  if (it == shapes.values.end()) {
    fail(ErrorCode::kInternal, "memory planner: tensor '", v->name, "' has no static shape");
  }
  return static_cast<uint64_t>(shape_numel(it->second)) * element_size(v->dtype);
}

}  // namespace

MemoryPlan plan_memory(const ir::Graph& graph, const StaticShapes& shapes) {
  MemoryPlan plan;
  plan.input_shapes = shapes.inputs;
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
      TensorPlacement t;
      t.name = v->name;
      t.bytes = byte_size(v, shapes);
      size_t b = kExternal;
      const ir::Value* in0 = n.input(0);
      if (is_alias_op(n.op) && n.outputs.size() == 1 && in0 && in0->dtype == v->dtype) {
        t.alias_of = in0->name;
        b = buffer_of_input(in0);
      } else {
        if (may_run_in_place(n.op) && n.outputs.size() == 1) {
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
      plan.tensors.push_back(std::move(t));
    }
  }
  std::vector<LiveRange> ranges;
  for (const Buffer& b : buffers) ranges.push_back(b.range);
  ArenaLayout layout = assign_offsets(ranges);
  for (size_t b = 0; b < buffers.size(); ++b) {
    for (size_t t : buffers[b].tensors) plan.tensors[t].offset = layout.offsets[b];
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

}  // namespace kiln::build
