// `kiln inspect`: what a model or plan holds — inputs, outputs, op histogram, parameters, FLOPs
// and layers — as text or as one JSON object.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.hpp"
#include "kiln/inspector.hpp"
#include "model_source.hpp"

namespace kiln::tools {
namespace {

using nlohmann::json;

// Known dims as numbers, symbolic ones as their name, anonymous unknown ones as null;
// an unknown rank is null.
json shape_json(const TensorDesc& t) {
  if (!t.rank_known) return nullptr;
  json dims = json::array();
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (t.dims[i] >= 0) {
      dims.push_back(t.dims[i]);
    } else if (i < t.dim_names.size() && !t.dim_names[i].empty()) {
      dims.push_back(t.dim_names[i]);
    } else {
      dims.push_back(nullptr);
    }
  }
  return dims;
}

json tensor_json(const TensorDesc& t) {
  return {{"name", t.name}, {"dtype", std::string(to_string(t.dtype))}, {"shape", shape_json(t)}};
}

std::vector<std::string> names(const std::vector<TensorDesc>& ts) {
  std::vector<std::string> out;
  for (const TensorDesc& t : ts) out.push_back(t.name);
  return out;
}

// Ops by descending count, then by name.
std::vector<std::pair<std::string, int64_t>> sorted_histogram(const GraphStatistics& s) {
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

// The layers on the device (or the CPU), and those a split GPU engine runs on the host after them.
std::vector<const LayerInformation*> layers_where(const EngineInformation& info, bool on_host) {
  std::vector<const LayerInformation*> out;
  for (const LayerInformation& l : info.layers) {
    if (l.on_host == on_host) out.push_back(&l);
  }
  return out;
}

int64_t layers_launching_work(const EngineInformation& info) {
  int64_t n = 0;
  for (const LayerInformation* l : layers_where(info, false)) {
    n += l->execution == LayerExecution::kKernel ? 1 : 0;
  }
  return n;
}

json memory_json(const MemoryPlanInformation& plan) {
  json j;
  j["arena_bytes"] = plan.arena_bytes;
  j["total_bytes"] = plan.total_bytes;
  j["lower_bound_bytes"] = plan.lower_bound_bytes;
  j["eliminated_concats"] = plan.eliminated_concats;
  j["input_shapes"] = json::object();
  for (const auto& [name, shape] : plan.input_shapes) j["input_shapes"][name] = shape;
  j["tensors"] = json::array();
  for (const ActivationPlacement& t : plan.tensors) {
    json e = {{"name", t.name}, {"bytes", t.bytes}};
    if (t.offset) {
      e["offset"] = *t.offset;
    } else {
      e["offset"] = nullptr;
      e["view_of"] = t.view_of;
    }
    if (!t.in_place_of.empty()) e["in_place_of"] = t.in_place_of;
    if (!t.concat_into.empty()) e["concat_into"] = t.concat_into;
    j["tensors"].push_back(std::move(e));
  }
  return j;
}

// The builder's per-layer precision; null for a network it has not built (an ONNX model).
json precision_json(const LayerInformation& l) {
  return l.precision.empty() ? json(nullptr) : json(l.precision);
}

// Layers per precision ("fp16": 40), reformat (Cast) layers included; empty for an ONNX model.
std::map<std::string, int64_t> precision_histogram(const EngineInformation& info) {
  std::map<std::string, int64_t> h;
  for (const LayerInformation* l : layers_where(info, false)) {
    if (!l->precision.empty()) ++h[l->precision];
  }
  return h;
}

json inspect_json(const std::string& path, const ModelContents& m) {
  const EngineInformation& info = m.info;
  const GraphStatistics& s = info.statistics;
  json j;
  j["model"] = path;
  j["format"] = m.format == ModelFormat::kPlan ? "plan" : "onnx";
  if (m.format == ModelFormat::kPlan) j["backend"] = std::string(to_string(m.backend));
  j["file_bytes"] = m.file_bytes;
  j["graph_name"] = info.name;
  j["inputs"] = json::array();
  for (const TensorDesc& t : info.device_part_inputs) j["inputs"].push_back(tensor_json(t));
  j["outputs"] = json::array();
  for (const TensorDesc& t : info.device_part_outputs) j["outputs"].push_back(tensor_json(t));
  j["op_histogram"] = json::object();
  for (const auto& [op, count] : s.op_histogram) j["op_histogram"][op] = count;
  j["parameters"] = s.parameters;
  j["flops"] = s.flops;
  j["flops_symbols_as_one"] = s.symbols_taken_as_one;
  j["flops_uncounted_layers"] = json::array();
  for (size_t i : s.uncounted_layers) j["flops_uncounted_layers"].push_back(info.layers[i].name);
  j["layers_launching_work"] = layers_launching_work(info);
  j["memory"] = info.memory ? memory_json(*info.memory) : json(nullptr);
  j["layers"] = json::array();
  for (const LayerInformation* l : layers_where(info, false)) {
    j["layers"].push_back({{"name", l->name},
                           {"op", l->op},
                           {"domain", l->domain},
                           {"inputs", names(l->inputs)},
                           {"outputs", names(l->outputs)},
                           {"origins", l->origins},
                           {"precision", precision_json(*l)},
                           {"layout", l->layout},
                           {"tactic", l->tactic},
                           {"attributes", l->attributes},
                           {"launches_work", l->execution == LayerExecution::kKernel}});
  }
  j["precision_histogram"] = json::object();
  for (const auto& [p, count] : precision_histogram(info)) j["precision_histogram"][p] = count;
  j["host_part"] = nullptr;
  std::vector<const LayerInformation*> host = layers_where(info, true);
  if (!host.empty() || !info.host_part_reason.empty()) {
    json part = {{"reason", info.host_part_reason}, {"layers", json::array()}};
    for (const LayerInformation* l : host) {
      part["layers"].push_back({{"name", l->name},
                                {"op", l->op},
                                {"inputs", names(l->inputs)},
                                {"outputs", names(l->outputs)}});
    }
    j["host_part"] = std::move(part);
  }
  return j;
}

void inspect_text(const std::string& path, const ModelContents& m, std::ostream& out) {
  const EngineInformation& info = m.info;
  const GraphStatistics& s = info.statistics;
  out << "model:      " << path << " (";
  if (m.format == ModelFormat::kPlan) {
    out << "kiln plan for the " << to_string(m.backend) << " backend";
  } else {
    out << "ONNX, as imported";
  }
  out << ", " << human(static_cast<double>(m.file_bytes), "B") << ")\n";
  if (!info.name.empty()) out << "graph:      " << info.name << "\n";
  out << "inputs:\n";
  for (const TensorDesc& t : info.device_part_inputs) {
    out << "  " << t.name << ": " << to_string(t.dtype) << shape_to_string(t) << "\n";
  }
  out << "outputs:\n";
  for (const TensorDesc& t : info.device_part_outputs) {
    out << "  " << t.name << ": " << to_string(t.dtype) << shape_to_string(t) << "\n";
  }
  out << "parameters: " << s.parameters << " (" << human(static_cast<double>(s.parameters), "")
      << ")\n";
  out << "FLOPs:      " << human(s.flops, "FLOP");
  if (!s.symbols_taken_as_one.empty()) {
    std::string dims;
    for (const std::string& d : s.symbols_taken_as_one) {
      dims += (dims.empty() ? "" : ", ") + d + "=1";
    }
    out << " (with " << dims << ")";
  }
  if (!s.uncounted_layers.empty()) {
    out << " (not counted: " << s.uncounted_layers.size()
        << " layer(s) with unknown shapes or no formula, e.g. "
        << layer_phrase(info.layers[s.uncounted_layers[0]]) << ")";
  }
  out << "\n";
  if (info.memory) {
    const MemoryPlanInformation& p = *info.memory;
    int64_t views = 0, in_place = 0, into_concats = 0;
    for (const ActivationPlacement& t : p.tensors) {
      views += t.view_of.empty() ? 0 : 1;
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
        << " view(s), " << in_place << " in place, " << p.eliminated_concats.size()
        << " concat(s) eliminated (" << into_concats << " input(s) written into their slice)\n";
    std::string shapes;
    for (const auto& [name, shape] : p.input_shapes) {
      shapes += (shapes.empty() ? "" : ", ") + name + shape_to_string(shape);
    }
    out << "            planned for inputs " << shapes << "\n";
  } else if (m.format == ModelFormat::kPlan) {
    out << "memory:     no plan (activation shapes are not static)\n";
  }
  std::vector<const LayerInformation*> layers = layers_where(info, false);
  out << "ops (" << layers.size() << " layers, " << layers_launching_work(info)
      << " launching work):\n";
  for (const auto& [op, count] : sorted_histogram(s)) out << "  " << op << ": " << count << "\n";
  std::map<std::string, int64_t> precisions = precision_histogram(info);
  if (!precisions.empty()) {
    out << "precisions:";
    for (const auto& [p, count] : precisions) out << " " << p << " " << count << ";";
    out << "\n";
  }
  out << "layers:\n";
  for (const LayerInformation* l : layers) {
    out << "  " << l->name << " (" << (l->domain.empty() ? "" : l->domain + ".") << l->op
        << (l->precision.empty() ? "" : ", " + l->precision)
        << (l->layout.empty() ? "" : ", " + l->layout)
        << (l->tactic.empty() ? "" : ", tactic " + l->tactic) << "): " << join(names(l->inputs))
        << " -> " << join(names(l->outputs));
    if (!l->origins.empty() && !(l->origins.size() == 1 && l->origins[0] == l->name)) {
      out << "  [from " << join(l->origins) << "]";
    }
    if (l->execution == LayerExecution::kAssembledConcat) {
      out << "  [eliminated: its inputs write into its output]";
    } else if (l->execution == LayerExecution::kView) {
      out << "  [view]";
    }
    out << "\n";
  }
  std::vector<const LayerInformation*> host = layers_where(info, true);
  if (!host.empty() || !info.host_part_reason.empty()) {
    out << "host part:  " << host.size()
        << " layer(s) run on the host (CPU backend) after the layers above, because their shapes "
           "depend on the data ("
        << info.host_part_reason << "); execute() runs the engine, enqueue() cannot\n";
    for (const LayerInformation* l : host) {
      out << "  " << l->name << " (" << l->op << "): " << join(names(l->inputs)) << " -> "
          << join(names(l->outputs)) << "\n";
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
  ModelContents m = inspect_model(o.model);
  if (o.json) {
    out << inspect_json(o.model, m).dump(2) << "\n";
  } else {
    inspect_text(o.model, m, out);
  }
}

}  // namespace kiln::tools
