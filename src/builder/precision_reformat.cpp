// Applying layer precisions: values of reduced layers change type, their weights are converted
// once at build time, and Cast (reformat) layers go only where a value's type and a reader's
// need differ — one per value and type, so a chain of FP16 layers has none between them.
#include "builder/precision_reformat.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "core/error.hpp"
#include "core/float_types.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "ir/verifier.hpp"

namespace kiln::builder {
namespace {

constexpr float kHalfMax = 65504.0f;

// Slots are listed in increasing order (a layer may have very many: a Concat of thousands).
bool contains(const std::vector<size_t>& slots, size_t slot) {
  return std::binary_search(slots.begin(), slots.end(), slot);
}

// Whether every value of type `narrow` survives a trip through `wide` unchanged.
bool widens_exactly(DataType narrow, DataType wide) {
  bool narrow_16 = narrow == DataType::kFloat16 || narrow == DataType::kBFloat16;
  return narrow_16 && (wide == DataType::kFloat32 || wide == DataType::kFloat64);
}

class Reformatter {
 public:
  Reformatter(ir::Graph& g, const std::vector<LayerChoice>& layers) : g_(g), layers_(layers) {
    for (const auto& v : g.values()) declared_[v.get()] = v->dtype;
  }

  ReformatCounts run() {
    retype_outputs();
    keep_graph_output_types();
    for (const LayerChoice& l : layers_) {
      for (size_t i = 0; i < l.node->inputs.size(); ++i) {
        ir::Value* v = l.node->inputs[i];
        if (!v) continue;
        std::optional<DataType> need = required_type(l, i, declared_.at(v));
        if (need && v->dtype != *need) l.node->inputs[i] = convert(v, *need);
      }
    }
    if (counts_.reformat_layers || counts_.converted_weights) {
      g_.sort_topologically();
      if (counts_.converted_weights) g_.remove_unused();  // the FP32 copies nobody reads now
      ir::verify_graph(g_);
    }
    return counts_;
  }

 private:
  void retype_outputs() {
    for (const LayerChoice& l : layers_) {
      if (!l.float_work || l.dtype == DataType::kFloat32) continue;
      for (size_t s : l.out_slots) l.node->outputs[s]->dtype = l.dtype;
      if (l.node->op == "Cast") l.node->attrs.set("to", std::string(to_string(l.dtype)));
    }
  }

  // A graph output written in another type than declared: its producer writes a renamed value,
  // which its other readers use directly, and one Cast writes the output under its own name.
  void keep_graph_output_types() {
    std::unordered_map<const ir::Value*, ir::Value*> renamed;  // v -> w below
    for (ir::Value* v : std::vector<ir::Value*>(g_.outputs())) {
      DataType declared = declared_.at(v);
      if (v->dtype == declared || !v->producer) continue;
      ir::Node* producer = v->producer;
      ir::Value* w =
          g_.add_value(g_.unique_value_name(cat(v->name, "_", precision_name(v->dtype, false))),
                       v->dtype, v->shape);
      declared_[w] = declared;
      std::replace(producer->outputs.begin(), producer->outputs.end(), v, w);
      w->producer = producer;
      renamed[v] = w;
      v->dtype = declared;
      v->producer = nullptr;
      add_cast(w, v);
      converted_[{w, declared}] = v;
    }
    // The other readers read the renamed value (the Casts just added read it already).
    if (renamed.empty()) return;
    for (const auto& n : g_.nodes()) {
      for (ir::Value*& in : n->inputs) {
        auto it = in ? renamed.find(in) : renamed.end();
        if (it != renamed.end()) in = it->second;
      }
    }
  }

  ir::Value* convert(ir::Value* v, DataType to) {
    auto key = std::make_pair(static_cast<const ir::Value*>(v), to);
    if (auto it = converted_.find(key); it != converted_.end()) return it->second;
    ir::Value* out = nullptr;
    std::string name = g_.unique_value_name(cat(v->name, "_", precision_name(to, false)));
    const ir::Node* p = v->producer;
    if (v->constant) {
      out = g_.add_constant(name, convert_constant(*v->constant, to, v->name));
      ++counts_.converted_weights;
    } else if (p && p->op == "Cast" && p->input(0) && p->input(0)->dtype == to &&
               widens_exactly(to, v->dtype)) {
      out = p->input(0);  // v widened a value of type `to`: read that value instead
    } else {
      out = g_.add_value(name, to, v->shape);
      add_cast(v, out);
    }
    converted_[key] = out;
    return out;
  }

  Tensor convert_constant(const Tensor& t, DataType to, const std::string& name) {
    if (t.dtype() == DataType::kFloat32 &&
        (to == DataType::kFloat16 || to == DataType::kBFloat16)) {
      return convert_weights(t, to, name);
    }
    fail(ErrorCode::kInternal, "precision: no build-time conversion of constant '", name, "' from ",
         to_string(t.dtype()), " to ", to_string(to));
  }

  void add_cast(ir::Value* from, ir::Value* to) {
    std::string name =
        g_.unique_node_name(cat("reformat_", from->name, "_to_", precision_name(to->dtype, false)));
    ir::Node* n = g_.add_node("Cast", name, {from}, {to});
    n->attrs.set("to", std::string(kiln::to_string(to->dtype)));
    n->attrs.set(ir::kLayerPrecisionAttr, precision_name(to->dtype, false));
    ++counts_.reformat_layers;
  }

  ir::Graph& g_;
  const std::vector<LayerChoice>& layers_;
  std::unordered_map<const ir::Value*, DataType> declared_;
  std::map<std::pair<const ir::Value*, DataType>, ir::Value*> converted_;
  ReformatCounts counts_;
};

}  // namespace

std::string precision_name(DataType t, bool tf32) {
  switch (t) {
    case DataType::kFloat32:
      return tf32 ? "tf32" : "fp32";
    case DataType::kFloat16:
      return "fp16";
    case DataType::kBFloat16:
      return "bf16";
    case DataType::kFloat64:
      return "fp64";
    case DataType::kFloat8E4M3:
      return "fp8e4m3";
    default:
      return std::string(to_string(t));
  }
}

std::optional<DataType> required_type(const LayerChoice& l, size_t slot, DataType declared) {
  if (contains(l.in_slots, slot)) return l.dtype;
  if (accepts_any_type(*l.node, slot)) return std::nullopt;
  return declared;
}

ReformatCounts retype_and_reformat(ir::Graph& graph, const std::vector<LayerChoice>& layers) {
  return Reformatter(graph, layers).run();
}

Tensor convert_weights(const Tensor& t, DataType to, const std::string& name) {
  Tensor out(to, t.shape());
  const float* src = t.data<float>();
  int64_t clamped = 0, flushed = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    float x = src[i];
    if (to == DataType::kBFloat16) {
      out.data<BFloat16>()[i] = BFloat16(x);
      continue;
    }
    if (std::isfinite(x) && std::fabs(x) > kHalfMax) {
      x = std::copysign(kHalfMax, x);
      ++clamped;
    }
    Half h(x);
    if (x != 0.0f && static_cast<float>(h) == 0.0f) ++flushed;
    out.data<Half>()[i] = h;
  }
  if (clamped) {
    log(Severity::kWarning, cat("weights '", name, "': ", clamped, " of ", t.numel(),
                                " value(s) beyond the FP16 range were clamped to +-65504"));
  }
  if (flushed) {
    log(Severity::kInfo, cat("weights '", name, "': ", flushed, " of ", t.numel(),
                             " nonzero value(s) below FP16's smallest subnormal became 0"));
  }
  return out;
}

}  // namespace kiln::builder
