// `kiln inspect`: what a model or plan holds — inputs, outputs, op histogram, parameters, FLOPs
// and layers — as text or as one JSON object.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.hpp"
#include "core/error.hpp"
#include "ir/graph_stats.hpp"
#include "ir/layer_precision.hpp"
#include "kiln/kiln.hpp"
#include "model_source.hpp"

namespace kiln::tools {
namespace {

using nlohmann::json;

// Known dims as numbers, symbolic ones as their name, anonymous unknown ones as null;
// an unknown rank is null.
json shape_json(const std::optional<ir::SymShape>& shape) {
  if (!shape) return nullptr;
  json dims = json::array();
  for (const ir::Dim& d : *shape) {
    if (d.known()) {
      dims.push_back(d.value);
    } else if (!d.symbol.empty()) {
      dims.push_back(d.symbol);
    } else {
      dims.push_back(nullptr);
    }
  }
  return dims;
}

json tensor_json(const ir::Value& v) {
  return {
      {"name", v.name}, {"dtype", std::string(to_string(v.dtype))}, {"shape", shape_json(v.shape)}};
}

std::vector<std::string> names(const std::vector<ir::Value*>& vs) {
  std::vector<std::string> out;
  for (const ir::Value* v : vs) out.push_back(v ? v->name : "");
  return out;
}

// Ops by descending count, then by name.
std::vector<std::pair<std::string, int64_t>> sorted_histogram(const ir::GraphStats& s) {
  std::vector<std::pair<std::string, int64_t>> h(s.op_histogram.begin(), s.op_histogram.end());
  std::stable_sort(h.begin(), h.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return h;
}

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (v >= 1000 && i < 5) {
    v /= 1000;
    ++i;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.3g %s%s", v, prefixes[i], unit);
  std::string r = buf;
  while (!r.empty() && r.back() == ' ') r.pop_back();
  return r;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i)
    s += (i ? ", " : "") + (items[i].empty() ? "-" : items[i]);
  return s;
}

// Whether a layer runs a kernel: with a memory plan, Reshape-like layers are views of their input
// and Concat layers whose inputs were written into their output run nothing.
struct WorkingLayers {
  std::set<std::string> views;      // outputs of view layers
  std::set<std::string> assembled;  // outputs of eliminated Concats
  explicit WorkingLayers(const ModelGraph& m) {
    if (!m.memory) return;
    for (const TensorPlacement& t : m.memory->tensors) {
      if (!t.alias_of.empty()) views.insert(t.name);
    }
    assembled = assembled_concats(*m.memory);
  }
  bool launches_work(const ir::Node& n) const {
    const ir::Value* v = n.outputs.size() == 1 ? n.output(0) : nullptr;
    return !v || (!views.count(v->name) && !assembled.count(v->name));
  }
};

int64_t layers_launching_work(const ModelGraph& m) {
  WorkingLayers w(m);
  int64_t n = 0;
  for (const auto& node : m.graph->nodes()) n += w.launches_work(*node) ? 1 : 0;
  return n;
}

json memory_json(const MemoryPlan& plan) {
  json j;
  j["arena_bytes"] = plan.arena_bytes;
  j["total_bytes"] = plan.total_bytes;
  j["lower_bound_bytes"] = plan.lower_bound_bytes;
  j["eliminated_concats"] = json::array();
  for (const std::string& c : assembled_concats(plan)) j["eliminated_concats"].push_back(c);
  j["input_shapes"] = json::object();
  for (const auto& [name, shape] : plan.input_shapes) j["input_shapes"][name] = shape;
  j["tensors"] = json::array();
  for (const TensorPlacement& t : plan.tensors) {
    json e = {{"name", t.name}, {"bytes", t.bytes}};
    if (t.alias_of.empty()) {
      e["offset"] = t.offset;
    } else {
      e["offset"] = nullptr;
      e["view_of"] = t.alias_of;
    }
    if (!t.in_place_of.empty()) e["in_place_of"] = t.in_place_of;
    if (!t.concat_into.empty()) e["concat_into"] = t.concat_into;
    j["tensors"].push_back(std::move(e));
  }
  return j;
}

// The activation layout of a layer whose kernels care (convolutions, pooling): "NHWC" where the
// builder chose channels-last, "NCHW" otherwise; "" for layers without a layout.
std::string layout_of(const ir::Node& n) {
  if (n.attrs.get_int("channels_last", 0) != 0) return "NHWC";
  static const std::set<std::string> kSpatial = {
      "Conv",        "FusedConv",          "ConvTranspose",        "MaxPool",
      "AveragePool", "GlobalAveragePool",  "GlobalMaxPool",        "LpPool",
      "Resize",      "BatchNormalization", "InstanceNormalization"};
  return kSpatial.count(n.op) ? "NCHW" : "";
}

// The builder's per-layer precision; null for a graph it has not seen (an ONNX model).
json precision_json(const ir::Node& n) {
  std::string p = ir::layer_precision(n);
  return p.empty() ? json(nullptr) : json(p);
}

// Layers per precision ("fp16": 40), reformat (Cast) layers included; empty for an ONNX model.
std::map<std::string, int64_t> precision_histogram(const ir::Graph& g) {
  std::map<std::string, int64_t> h;
  for (const auto& n : g.nodes()) {
    std::string p = ir::layer_precision(*n);
    if (!p.empty()) ++h[p];
  }
  return h;
}

json inspect_json(const std::string& path, const ModelGraph& m, const ir::GraphStats& s) {
  const ir::Graph& g = *m.graph;
  json j;
  j["model"] = path;
  j["format"] = m.format == ModelFormat::kPlan ? "plan" : "onnx";
  if (m.format == ModelFormat::kPlan) j["backend"] = std::string(to_string(m.backend));
  j["file_bytes"] = m.file_bytes;
  j["graph_name"] = g.name;
  j["inputs"] = json::array();
  for (const ir::Value* v : g.inputs()) j["inputs"].push_back(tensor_json(*v));
  j["outputs"] = json::array();
  for (const ir::Value* v : g.outputs()) j["outputs"].push_back(tensor_json(*v));
  j["op_histogram"] = json::object();
  for (const auto& [op, count] : s.op_histogram) j["op_histogram"][op] = count;
  j["parameters"] = s.parameters;
  j["flops"] = s.flops;
  j["flops_symbols_as_one"] = s.symbols_as_one;
  j["flops_uncounted_layers"] = json::array();
  for (const ir::Node* n : s.uncounted) j["flops_uncounted_layers"].push_back(n->name);
  j["layers_launching_work"] = layers_launching_work(m);
  j["memory"] = m.memory ? memory_json(*m.memory) : json(nullptr);
  j["layers"] = json::array();
  WorkingLayers working(m);
  for (const auto& n : g.nodes()) {
    json attrs = json::object();
    for (const auto& [k, v] : n->attrs.all()) attrs[k] = ir::attr_value_to_string(v);
    j["layers"].push_back({{"name", n->name},
                           {"op", n->op},
                           {"domain", n->domain},
                           {"inputs", names(n->inputs)},
                           {"outputs", names(n->outputs)},
                           {"origins", n->origins},
                           {"precision", precision_json(*n)},
                           {"layout", layout_of(*n)},
                           {"tactic", n->attrs.get_string("tactic", "")},
                           {"attributes", attrs},
                           {"launches_work", working.launches_work(*n)}});
  }
  j["precision_histogram"] = json::object();
  for (const auto& [p, count] : precision_histogram(g)) j["precision_histogram"][p] = count;
  j["host_part"] = nullptr;
  if (m.host_tail) {
    json host = {{"reason", m.host_tail_reason}, {"layers", json::array()}};
    for (const auto& n : m.host_tail->nodes()) {
      host["layers"].push_back({{"name", n->name},
                                {"op", n->op},
                                {"inputs", names(n->inputs)},
                                {"outputs", names(n->outputs)}});
    }
    j["host_part"] = std::move(host);
  }
  return j;
}

void inspect_text(const std::string& path, const ModelGraph& m, const ir::GraphStats& s,
                  std::ostream& out) {
  const ir::Graph& g = *m.graph;
  out << "model:      " << path << " (";
  if (m.format == ModelFormat::kPlan) {
    out << "kiln plan for the " << to_string(m.backend) << " backend";
  } else {
    out << "ONNX, as imported";
  }
  out << ", " << human(static_cast<double>(m.file_bytes), "B") << ")\n";
  if (!g.name.empty()) out << "graph:      " << g.name << "\n";
  out << "inputs:\n";
  for (const ir::Value* v : g.inputs()) {
    out << "  " << v->name << ": " << to_string(v->dtype) << ir::sym_shape_to_string(v->shape)
        << "\n";
  }
  out << "outputs:\n";
  for (const ir::Value* v : g.outputs()) {
    out << "  " << v->name << ": " << to_string(v->dtype) << ir::sym_shape_to_string(v->shape)
        << "\n";
  }
  out << "parameters: " << s.parameters << " (" << human(static_cast<double>(s.parameters), "")
      << ")\n";
  out << "FLOPs:      " << human(s.flops, "FLOP");
  if (!s.symbols_as_one.empty()) {
    std::string dims;
    for (const std::string& d : s.symbols_as_one) dims += (dims.empty() ? "" : ", ") + d + "=1";
    out << " (with " << dims << ")";
  }
  if (!s.uncounted.empty()) {
    out << " (not counted: " << s.uncounted.size()
        << " layer(s) with unknown shapes or no formula, e.g. " << s.uncounted[0]->describe()
        << ")";
  }
  out << "\n";
  if (m.memory) {
    const MemoryPlan& p = *m.memory;
    int64_t views = 0, in_place = 0, into_concats = 0;
    for (const TensorPlacement& t : p.tensors) {
      views += t.alias_of.empty() ? 0 : 1;
      in_place += t.in_place_of.empty() ? 0 : 1;
      into_concats += t.concat_into.empty() ? 0 : 1;
    }
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.3f",
                  p.lower_bound_bytes ? static_cast<double>(p.arena_bytes) /
                                            static_cast<double>(p.lower_bound_bytes)
                                      : 1.0);
    out << "memory:     arena " << human(static_cast<double>(p.arena_bytes), "B")
        << " (lower bound " << human(static_cast<double>(p.lower_bound_bytes), "B") << ", " << ratio
        << "x; all activations " << human(static_cast<double>(p.total_bytes), "B") << "), " << views
        << " view(s), " << in_place << " in place, " << assembled_concats(p).size()
        << " concat(s) eliminated (" << into_concats << " input(s) written into their slice)\n";
    std::string shapes;
    for (const auto& [name, shape] : p.input_shapes) {
      shapes += (shapes.empty() ? "" : ", ") + name + shape_to_string(shape);
    }
    out << "            planned for inputs " << shapes << "\n";
  } else if (m.format == ModelFormat::kPlan) {
    out << "memory:     no plan (activation shapes are not static)\n";
  }
  out << "ops (" << g.nodes().size() << " layers, " << layers_launching_work(m)
      << " launching work):\n";
  for (const auto& [op, count] : sorted_histogram(s)) out << "  " << op << ": " << count << "\n";
  std::map<std::string, int64_t> precisions = precision_histogram(g);
  if (!precisions.empty()) {
    out << "precisions:";
    for (const auto& [p, count] : precisions) out << " " << p << " " << count << ";";
    out << "\n";
  }
  out << "layers:\n";
  WorkingLayers working(m);
  for (const auto& n : g.nodes()) {
    std::string precision = ir::layer_precision(*n);
    std::string tactic = n->attrs.get_string("tactic", "");
    std::string layout = layout_of(*n);
    out << "  " << n->name << " (" << (n->domain.empty() ? "" : n->domain + ".") << n->op
        << (precision.empty() ? "" : ", " + precision) << (layout.empty() ? "" : ", " + layout)
        << (tactic.empty() ? "" : ", tactic " + tactic) << "): " << join(names(n->inputs)) << " -> "
        << join(names(n->outputs));
    if (!n->origins.empty() && !(n->origins.size() == 1 && n->origins[0] == n->name)) {
      out << "  [from " << join(n->origins) << "]";
    }
    if (working.assembled.count(n->output(0) ? n->output(0)->name : "")) {
      out << "  [eliminated: its inputs write into its output]";
    } else if (!working.launches_work(*n)) {
      out << "  [view]";
    }
    out << "\n";
  }
  if (m.host_tail) {
    out << "host part:  " << m.host_tail->nodes().size()
        << " layer(s) run on the host (CPU backend) after the layers above, because their shapes "
           "depend on the data ("
        << m.host_tail_reason << "); execute() runs the engine, enqueue() cannot\n";
    for (const auto& n : m.host_tail->nodes()) {
      out << "  " << n->name << " (" << n->op << "): " << join(names(n->inputs)) << " -> "
          << join(names(n->outputs)) << "\n";
    }
  }
}

}  // namespace

CLI::App* add_inspect_command(CLI::App& app, InspectOptions& o) {
  CLI::App* sub = app.add_subcommand(
      "inspect", "Show a model's or plan's inputs, outputs, ops, parameters, FLOPs and layers");
  sub->add_option("model", o.model, "plan file or ONNX model")->required();
  sub->add_flag("--json", o.json, "print one JSON object (with a \"layers\" list) instead of text");
  sub->footer(
      "Plans and ONNX models are told apart by their first bytes, not by the file name.\n"
      "Examples:\n"
      "  kiln inspect model.onnx\n"
      "  kiln inspect model.plan --json | jq '.layers[] | .op'");
  return sub;
}

void inspect_command(const InspectOptions& o, std::ostream& out, std::ostream& err) {
  ModelGraph m = load_model_graph(o.model);
  ir::GraphStats s = ir::graph_stats(*m.graph);
  if (o.json) {
    out << inspect_json(o.model, m, s).dump(2) << "\n";
  } else {
    inspect_text(o.model, m, s, out);
  }
}

}  // namespace kiln::tools
