// Precision assignment: every layer gets a precision under the builder's flags and the user's
// constraints, cheap layers follow their neighbours so that as few reformat (Cast) layers as
// possible are needed, and the graph is retyped to match (see precision_reformat.cpp).
#include "builder/precision.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "builder/precision_policy.hpp"
#include "builder/precision_reformat.hpp"
#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"

namespace kiln {

std::string_view to_string(Precision p) {
  switch (p) {
    case Precision::kFloat32:
      return "fp32";
    case Precision::kTf32:
      return "tf32";
    case Precision::kFloat16:
      return "fp16";
    case Precision::kBFloat16:
      return "bf16";
  }
  return "unknown";
}

std::optional<Precision> parse_precision(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (Precision p :
       {Precision::kFloat32, Precision::kTf32, Precision::kFloat16, Precision::kBFloat16}) {
    if (lower == to_string(p)) return p;
  }
  return std::nullopt;
}

namespace builder {
namespace {

constexpr DataType kF32 = DataType::kFloat32;

bool is_reduced(DataType t) {
  return t == DataType::kFloat16 || t == DataType::kBFloat16;
}

// The storage type of a precision.
DataType storage_type(Precision p) {
  if (p == Precision::kFloat16) return DataType::kFloat16;
  if (p == Precision::kBFloat16) return DataType::kBFloat16;
  return kF32;
}

// Constraints are ranked by how much they keep: FP32 keeps most, FP16 least.
int keep_rank(Precision p) {
  switch (p) {
    case Precision::kFloat32:
      return 0;
    case Precision::kTf32:
      return 1;
    case Precision::kBFloat16:
      return 2;
    case Precision::kFloat16:
      return 3;
  }
  return 0;
}

// What a layer runs in when it does no FP32 work of its own: its float type if it writes one (a
// model already in FP16), else the type of its first output ("int64" for Shape).
std::string native_precision(const ir::Node& n) {
  for (const ir::Value* v : n.outputs) {
    if (v && is_floating(v->dtype)) return precision_name(v->dtype, false);
  }
  for (const ir::Value* v : n.outputs) {
    if (v) return std::string(to_string(v->dtype));
  }
  return "";
}

class PrecisionAssigner {
 public:
  PrecisionAssigner(ir::Graph& g, const BuilderConfig& config) : g_(g), config_(config) {
    if (config.fp16) {
      reduced_ = DataType::kFloat16;
    } else if (config.bf16) {
      reduced_ = DataType::kBFloat16;
    }
  }

  PrecisionSummary run() {
    for (ir::Node* n : g_.node_list()) plan_layer(*n);
    check_unused_constraints();
    if (reduced_ != kF32) {
      index_uses();  // only settling looks at who reads what
      settle_flexible_layers();
    }
    PrecisionSummary summary;
    for (const LayerChoice& l : layers_) {
      std::string name = l.float_work ? precision_name(l.dtype, l.tf32) : native_precision(*l.node);
      l.node->attrs.set(ir::kLayerPrecisionAttr, name);
      if (!name.empty()) ++summary.layers[name];
    }
    ReformatCounts counts = retype_and_reformat(g_, layers_);
    summary.reformat_layers = counts.reformat_layers;
    summary.converted_weights = counts.converted_weights;
    return summary;
  }

 private:
  void plan_layer(ir::Node& n) {
    LayerChoice l;
    l.node = &n;
    l.policy = classify_layer(n);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const ir::Value* v = n.inputs[i];
      if (v && v->dtype == kF32 && !is_fixed_type_input(n, i) && !accepts_any_type(n, i)) {
        l.in_slots.push_back(i);
      }
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      const ir::Value* v = n.outputs[i];
      if (v && v->dtype == kF32) l.out_slots.push_back(i);
    }
    if (n.op == "Cast" && !l.out_slots.empty()) {
      // A Cast to FP32 can cast to the reduced type instead; from integers it would lose
      // exactness above 2048, so only float and bool sources take part.
      const ir::Value* src = n.input(0);
      if (!src || !(is_floating(src->dtype) || src->dtype == DataType::kBool)) {
        l.policy = {LayerClass::kUnreducible, "integers above 2048 are not exact in 16 bits"};
      }
    }
    l.float_work = !l.in_slots.empty() || !l.out_slots.empty();
    bool matrix = l.policy.cls == LayerClass::kMatrix;
    std::optional<Precision> pin = constraint_for(n);

    if (pin) {
      l.pinned = true;
      DataType want = storage_type(*pin);
      std::string why;
      if (!l.float_work) {
        why = "it does no FP32 work";
      } else if (is_reduced(want) && !runs_in(l, want, why)) {
        // `why` says what went wrong.
      } else {
        l.dtype = want;
        l.tf32 = *pin == Precision::kTf32 && matrix;
        layers_.push_back(std::move(l));
        return;
      }
      std::string msg = cat("precision constraint ", to_string(*pin), " on ", n.describe(),
                            " cannot hold: ", why);
      if (config_.strict_types) fail(ErrorCode::kInvalidArgument, msg, " (strict types)");
      log(Severity::kWarning, cat(msg, "; it keeps its FP32 precision"));
      l.dtype = kF32;
      l.tf32 = matrix && config_.tf32;
      layers_.push_back(std::move(l));
      return;
    }

    if (l.float_work && reduced_ != kF32) {
      std::string why;
      if (l.policy.cls == LayerClass::kMatrix || l.policy.cls == LayerClass::kFlexible) {
        if (runs_in(l, reduced_, why)) {
          l.dtype = reduced_;
          l.flexible = l.policy.cls == LayerClass::kFlexible;
        } else {
          log(Severity::kVerbose, cat(n.describe(), " keeps FP32: it cannot run in ",
                                      to_string(reduced_), " (", why, ")"));
        }
      } else {
        log(Severity::kVerbose, cat(n.describe(), " keeps FP32: ", l.policy.reason));
      }
    }
    l.tf32 = matrix && l.dtype == kF32 && config_.tf32;
    layers_.push_back(std::move(l));
  }

  // The strictest constraint naming the layer or one of the ONNX nodes it came from.
  std::optional<Precision> constraint_for(const ir::Node& n) {
    std::optional<Precision> found;
    if (config_.layer_precisions.empty()) return found;
    std::vector<std::string> keys = n.origins;
    keys.push_back(n.name);
    for (const std::string& key : keys) {
      auto it = config_.layer_precisions.find(key);
      if (it == config_.layer_precisions.end()) continue;
      used_constraints_.insert(key);
      if (found && *found != it->second) {
        log(Severity::kWarning,
            cat(n.describe(), " came from ONNX nodes with different precision constraints (",
                to_string(*found), ", ", to_string(it->second), "); the one keeping more wins"));
      }
      if (!found || keep_rank(it->second) < keep_rank(*found)) found = it->second;
    }
    return found;
  }

  void check_unused_constraints() const {
    for (const auto& [name, p] : config_.layer_precisions) {
      if (used_constraints_.count(name)) continue;
      std::string msg = cat("precision constraint ", to_string(p), " names '", name,
                            "', which is no layer of the network nor an ONNX node it came from");
      if (config_.strict_types) fail(ErrorCode::kInvalidArgument, msg, " (strict types)");
      log(Severity::kWarning, msg);
    }
  }

  // Whether inference accepts the layer with its FP32 slots in `t`, giving `t` back on exactly
  // the FP32 outputs: ops that fix a type (an attribute, a second type parameter) refuse here.
  bool runs_in(const LayerChoice& l, DataType t, std::string& why) const {
    const ir::Node& n = *l.node;
    if (l.policy.cls == LayerClass::kUnreducible) {
      why = l.policy.reason;
      return false;
    }
    if (n.op == "Cast") return true;  // its target type is what changes
    std::vector<std::optional<ir::TensorType>> ins(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const ir::Value* v = n.inputs[i];
      if (!v) continue;
      bool retyped = std::binary_search(l.in_slots.begin(), l.in_slots.end(), i);
      ir::TensorType tt;
      tt.dtype = retyped ? t : v->dtype;
      tt.shape = v->shape;
      tt.value = !retyped && v->constant ? &*v->constant : nullptr;
      ins[i] = std::move(tt);
    }
    std::vector<std::optional<ir::TensorType>> outs;
    try {
      outs = ir::infer_node(n, std::move(ins));
    } catch (const Error& e) {
      why = e.what();
      return false;
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      const ir::Value* v = n.outputs[i];
      if (!v || i >= outs.size() || !outs[i]) continue;
      bool retyped = std::binary_search(l.out_slots.begin(), l.out_slots.end(), i);
      DataType expected = retyped ? t : v->dtype;
      if (outs[i]->dtype != expected) {
        why = cat("its output '", v->name, "' would be ", to_string(outs[i]->dtype), ", not ",
                  to_string(expected));
        return false;
      }
    }
    return true;
  }

  // --- Letting flexible layers follow their neighbours ---

  void index_uses() {
    graph_outputs_.insert(g_.outputs().begin(), g_.outputs().end());
    for (size_t k = 0; k < layers_.size(); ++k) {
      const ir::Node* n = layers_[k].node;
      index_[n] = k;
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        const ir::Value* v = n->inputs[i];
        if (!v) continue;
        uses_[v].push_back({k, i});
        if (auto t = required_type(layers_[k], i, v->dtype)) ++wanted_[v][*t];
      }
    }
  }

  // Changes a layer's type, keeping the count of what its inputs' readers want current.
  void set_dtype(size_t k, DataType t) {
    LayerChoice& l = layers_[k];
    if (l.dtype == t) return;
    for (size_t s : l.in_slots) {
      std::map<DataType, int64_t>& wanted = wanted_[l.node->inputs[s]];
      if (--wanted[l.dtype] == 0) wanted.erase(l.dtype);
      ++wanted[t];
    }
    l.dtype = t;
  }

  // The type a value has under the current choices.
  DataType type_now(const ir::Value* v) const {
    if (!v->producer) return v->dtype;
    const LayerChoice& p = layers_[index_.at(v->producer)];
    for (size_t s : p.out_slots) {
      if (p.node->outputs[s] == v) return p.dtype;
    }
    return v->dtype;
  }

  // Reformat layers a value needs under the current choices: one per type its readers want
  // that it does not have. Constants need none (they are converted at build time).
  int64_t casts_for(const ir::Value* v) const {
    if (v->constant) return 0;
    std::set<DataType> wanted;
    if (auto it = wanted_.find(v); it != wanted_.end()) {
      for (const auto& [t, readers] : it->second) wanted.insert(t);
    }
    if (graph_outputs_.count(v)) wanted.insert(v->dtype);
    wanted.erase(type_now(v));
    return static_cast<int64_t>(wanted.size());
  }

  // Reformat layers on the values a set of layers reads or writes.
  int64_t casts_around(const std::vector<size_t>& members) const {
    std::set<const ir::Value*> values;
    for (size_t k : members) {
      const LayerChoice& l = layers_[k];
      for (size_t s : l.in_slots) values.insert(l.node->inputs[s]);
      for (size_t s : l.out_slots) values.insert(l.node->outputs[s]);
    }
    int64_t n = 0;
    for (const ir::Value* v : values) n += casts_for(v);
    return n;
  }

  // Groups of flexible layers connected through values: each group goes to whichever of FP32
  // and the reduced type needs fewer reformat layers around it (the reduced type on a tie, as it
  // is faster), then single layers move while that removes reformats. Comparing whole groups
  // first keeps a chain of cheap layers between FP32 neighbours in FP32, where moving one layer
  // at a time would never pay.
  void settle_flexible_layers() {
    for (const std::vector<size_t>& group : flexible_groups()) {
      set_group(group, reduced_);
      int64_t reduced_cost = casts_around(group);
      set_group(group, kF32);
      int64_t fp32_cost = casts_around(group);
      set_group(group, reduced_cost <= fp32_cost ? reduced_ : kF32);
    }
    for (int sweep = 0; sweep < 8; ++sweep) {
      bool changed = false;
      for (size_t k = 0; k < layers_.size(); ++k) {
        if (!layers_[k].flexible) continue;
        DataType current = layers_[k].dtype;
        DataType other = current == kF32 ? reduced_ : kF32;
        int64_t before = casts_around({k});
        set_dtype(k, other);
        if (casts_around({k}) < before) {
          changed = true;
        } else {
          set_dtype(k, current);
        }
      }
      if (!changed) break;
    }
  }

  void set_group(const std::vector<size_t>& group, DataType t) {
    for (size_t k : group) set_dtype(k, t);
  }

  std::vector<std::vector<size_t>> flexible_groups() const {
    std::vector<size_t> group_of(layers_.size(), SIZE_MAX);
    std::vector<std::vector<size_t>> groups;
    for (size_t start = 0; start < layers_.size(); ++start) {
      if (!layers_[start].flexible || group_of[start] != SIZE_MAX) continue;
      std::vector<size_t> group, stack = {start};
      group_of[start] = groups.size();
      while (!stack.empty()) {
        size_t k = stack.back();
        stack.pop_back();
        group.push_back(k);
        for (size_t next : flexible_neighbours(k)) {
          if (group_of[next] == SIZE_MAX) {
            group_of[next] = groups.size();
            stack.push_back(next);
          }
        }
      }
      groups.push_back(std::move(group));
    }
    return groups;
  }

  std::vector<size_t> flexible_neighbours(size_t k) const {
    std::vector<size_t> out;
    const LayerChoice& l = layers_[k];
    for (size_t s : l.in_slots) {
      const ir::Value* v = l.node->inputs[s];
      if (v->producer && layers_[index_.at(v->producer)].flexible) {
        out.push_back(index_.at(v->producer));
      }
    }
    for (size_t s : l.out_slots) {
      auto it = uses_.find(l.node->outputs[s]);
      if (it == uses_.end()) continue;
      for (const auto& [c, slot] : it->second) {
        if (layers_[c].flexible) out.push_back(c);
      }
    }
    return out;
  }

  ir::Graph& g_;
  const BuilderConfig& config_;
  DataType reduced_ = kF32;  // kF32: no reduced type allowed
  std::vector<LayerChoice> layers_;
  std::set<std::string> used_constraints_;
  std::unordered_map<const ir::Node*, size_t> index_;
  std::unordered_map<const ir::Value*, std::vector<std::pair<size_t, size_t>>> uses_;
  // Per value, the types its readers need (required_type) and how many readers need each: a
  // value read by thousands of layers is not walked again for each of them.
  std::unordered_map<const ir::Value*, std::map<DataType, int64_t>> wanted_;
  std::unordered_set<const ir::Value*> graph_outputs_;
};

}  // namespace

PrecisionSummary assign_precisions(ir::Graph& graph, const BuilderConfig& config) {
  return PrecisionAssigner(graph, config).run();
}

}  // namespace builder
}  // namespace kiln
