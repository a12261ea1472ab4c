// The public inspector (kiln/inspector.hpp): engines and networks described from their graphs,
// layer precision attributes, graph statistics and memory plans, as plain public structs.
#include "kiln/inspector.hpp"

#include <set>
#include <unordered_map>

#include "builder/memory_plan.hpp"
#include "ir/graph_stats.hpp"
#include "ir/layer_precision.hpp"
#include "ir/printer.hpp"
#include "plan/plan_file.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

// The layout of a layer whose kernels read activations in a layout: "NHWC" where the builder
// chose channels-last, "NCHW" otherwise; "" for layers without one.
// The op table has no layout-sensitive trait yet; one would replace this list.
std::string layout_of(const ir::Node& n) {
  if (n.attrs.get_int("channels_last", 0) != 0) return "NHWC";
  static const std::set<std::string> kSpatial = {
      "Conv",        "FusedConv",          "ConvTranspose",        "MaxPool",
      "AveragePool", "GlobalAveragePool",  "GlobalMaxPool",        "LpPool",
      "Resize",      "BatchNormalization", "InstanceNormalization"};
  return kSpatial.count(n.op) ? "NCHW" : "";
}

std::vector<TensorDesc> describe_values(const std::vector<ir::Value*>& values) {
  std::vector<TensorDesc> out;
  for (const ir::Value* v : values) {
    if (v) {
      out.push_back(describe_value(*v));
    } else {
      TensorDesc omitted;  // an omitted optional input or output: no name, no shape
      omitted.rank_known = false;
      out.push_back(std::move(omitted));
    }
  }
  return out;
}

// Views and Concats assembled in place run nothing when the memory plan is followed.
struct PlannedExecution {
  std::set<std::string> views;      // outputs of view layers
  std::set<std::string> assembled;  // outputs of eliminated Concats

  explicit PlannedExecution(const std::optional<MemoryPlan>& plan) {
    if (!plan) return;
    for (const TensorPlacement& t : plan->tensors) {
      if (!t.alias_of.empty()) views.insert(t.name);
    }
    assembled = assembled_concats(*plan);
  }
  LayerExecution of(const ir::Node& n) const {
    const ir::Value* v = n.outputs.size() == 1 ? n.output(0) : nullptr;
    if (v && assembled.count(v->name)) return LayerExecution::kAssembledConcat;
    if (v && views.count(v->name)) return LayerExecution::kView;
    return LayerExecution::kKernel;
  }
};

LayerInformation describe_layer(const ir::Node& n, const PlannedExecution& planned, bool on_host) {
  LayerInformation l;
  l.name = n.name;
  l.op = n.op;
  l.domain = n.domain;
  l.inputs = describe_values(n.inputs);
  l.outputs = describe_values(n.outputs);
  l.origins = n.origins;
  l.precision = ir::layer_precision(n);
  l.layout = layout_of(n);
  l.tactic = n.attrs.get_string("tactic", "");
  for (const auto& [k, v] : n.attrs.all()) l.attributes[k] = ir::attr_value_to_string(v);
  std::set<std::string> symbols;
  l.flops = ir::node_flops(n, &symbols);
  l.execution = planned.of(n);
  l.on_host = on_host;
  return l;
}

MemoryPlanInformation describe_memory(const MemoryPlan& plan) {
  MemoryPlanInformation m;
  m.arena_bytes = plan.arena_bytes;
  m.lower_bound_bytes = plan.lower_bound_bytes;
  m.total_bytes = plan.total_bytes;
  m.input_shapes = plan.input_shapes;
  for (const TensorPlacement& t : plan.tensors) {
    std::optional<uint64_t> offset;  // a view has none
    if (t.alias_of.empty()) offset = t.offset;
    m.tensors.push_back({t.name, t.bytes, offset, t.alias_of, t.in_place_of, t.concat_into});
  }
  std::set<std::string> eliminated = assembled_concats(plan);
  m.eliminated_concats.assign(eliminated.begin(), eliminated.end());
  return m;
}

// The layers of `graph` (the device part) then those of `host_tail`, with the statistics of the
// first.
void describe_graph(const ir::Graph& graph, const ir::Graph* host_tail,
                    const std::optional<MemoryPlan>& memory, EngineInformation& info) {
  info.name = graph.name;
  PlannedExecution planned(memory);
  std::unordered_map<const ir::Node*, size_t> index;
  for (const auto& n : graph.nodes()) {
    index.emplace(n.get(), info.layers.size());
    info.layers.push_back(describe_layer(*n, planned, false));
  }
  if (host_tail) {
    for (const auto& n : host_tail->nodes()) {
      info.layers.push_back(describe_layer(*n, PlannedExecution(std::nullopt), true));
    }
  }
  ir::GraphStats s = ir::graph_stats(graph);
  info.statistics.op_histogram = s.op_histogram;
  info.statistics.parameters = s.parameters;
  info.statistics.flops = s.flops;
  info.statistics.symbols_taken_as_one.assign(s.symbols_as_one.begin(), s.symbols_as_one.end());
  for (const ir::Node* n : s.uncounted) info.statistics.uncounted_layers.push_back(index.at(n));
  if (memory) info.memory = describe_memory(*memory);
}

}  // namespace

std::string shape_to_string(const TensorDesc& tensor) {
  if (!tensor.rank_known) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < tensor.dims.size(); ++i) {
    if (i) s += ",";
    if (tensor.dims[i] >= 0) {
      s += std::to_string(tensor.dims[i]);
    } else if (i < tensor.dim_names.size() && !tensor.dim_names[i].empty()) {
      s += tensor.dim_names[i];
    } else {
      s += "?";
    }
  }
  return s + "]";
}

bool looks_like_plan(std::string_view first_bytes) {
  return plan::looks_like_plan(first_bytes);
}

EngineInformation inspect_engine(const Engine& engine) {
  const Engine::Impl& impl = engine.impl();
  EngineInformation info;
  const ir::Graph* tail = impl.host_tail ? impl.host_tail->graph.get() : nullptr;
  describe_graph(*impl.graph, tail, impl.memory, info);
  info.inputs = impl.inputs;
  info.outputs = impl.outputs;
  info.host_part_reason = impl.host_tail_reason;
  info.device_part_inputs = describe_values(impl.graph->inputs());
  info.device_part_outputs = describe_values(impl.graph->outputs());
  return info;
}

EngineInformation inspect_network(const Network& network) {
  const ir::Graph& graph = *network.impl().graph;
  EngineInformation info;
  describe_graph(graph, nullptr, std::nullopt, info);
  info.inputs = describe_values(graph.inputs());
  info.outputs = describe_values(graph.outputs());
  info.device_part_inputs = info.inputs;
  info.device_part_outputs = info.outputs;
  return info;
}

std::string format_layers(const Engine& engine) {
  return ir::print_graph(*engine.impl().graph);
}

}  // namespace kiln
