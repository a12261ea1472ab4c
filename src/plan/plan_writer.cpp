// Serializes a graph into a plan file: header, FlatBuffers metadata, then the weights section with
// every tensor 64-byte aligned. Tensors that share a buffer (clones of one constant, a constant a
// subgraph captured) are stored once. Subgraphs are written recursively.
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.hpp"
#include "plan/plan_file.hpp"
#include "plan/plan_header.hpp"
#include "plan/plan_limits.hpp"
#include "plan_schema_generated.h"

namespace kiln::plan {
namespace {

namespace fbs = flatbuffers;

uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

// Assigns each distinct tensor buffer its place in the weights section.
class WeightsLayout {
 public:
  uint64_t place(const Tensor& t) {
    auto key = std::make_pair(t.raw(), t.nbytes());
    auto it = offsets_.find(key);
    if (it != offsets_.end()) return it->second;
    uint64_t offset = align_up(size_, kTensorAlignment);
    offsets_.emplace(key, offset);
    pieces_.push_back({&t, offset});
    size_ = offset + t.nbytes();
    return offset;
  }
  uint64_t size() const { return size_; }
  void copy_into(uint8_t* section) const {
    for (const auto& [t, offset] : pieces_) {
      if (t->nbytes()) std::memcpy(section + offset, t->raw(), t->nbytes());
    }
  }

 private:
  std::map<std::pair<const void*, size_t>, uint64_t> offsets_;
  std::vector<std::pair<const Tensor*, uint64_t>> pieces_;
  uint64_t size_ = 0;
};

class MetadataWriter {
 public:
  // Builds the metadata and lays out the weights; returns the finished FlatBuffer.
  fbs::DetachedBuffer build(const ir::Graph& g, const MemoryPlan* memory,
                            const HostTailSection* tail) {
    fbb_.Finish(graph(g, memory, tail));
    return fbb_.Release();
  }

  const WeightsLayout& weights() const { return weights_; }

 private:
  // The graph being written: value indices are per graph (subgraphs have their own values).
  struct Scope {
    const ir::Graph& graph;
    std::unordered_map<const ir::Value*, int32_t> index;
    std::unordered_map<std::string, int32_t> index_by_name;  // the first value of each name
  };

  // `memory` is the main graph's activation plan and `tail` its host part; subgraphs have none.
  fbs::Offset<fb::PlanGraph> graph(const ir::Graph& g, const MemoryPlan* memory = nullptr,
                                   const HostTailSection* tail = nullptr) {
    Scope scope{g, {}, {}};
    for (const auto& v : g.values()) {
      auto idx = static_cast<int32_t>(scope.index.size());
      scope.index.emplace(v.get(), idx);
      scope.index_by_name.emplace(v->name, idx);
    }
    std::vector<fbs::Offset<fb::Value>> values;
    std::vector<fbs::Offset<fb::Constant>> constants;
    for (const auto& v : g.values()) {
      values.push_back(value(*v));
      if (v->constant) {
        constants.push_back(
            fb::CreateConstant(fbb_, scope.index.at(v.get()), tensor(*v->constant)));
      }
    }
    std::vector<fbs::Offset<fb::Node>> nodes;
    for (const auto& n : g.nodes()) nodes.push_back(node(scope, *n));
    auto memory_table = memory ? memory_plan(scope, *memory) : 0;
    fbs::Offset<fb::PlanGraph> tail_graph = 0;
    fbs::Offset<fbs::String> tail_reason = 0;
    fbs::Offset<fbs::Vector<fbs::Offset<fbs::String>>> engine_inputs = 0, engine_outputs = 0;
    if (tail) {
      // The reader decodes a host part one level down, like a subgraph.
      tail_graph = nested_graph(*tail->graph, "the engine's host part");
      tail_reason = fbb_.CreateString(tail->reason);
      engine_inputs = fbb_.CreateVectorOfStrings(tail->engine_inputs);
      engine_outputs = fbb_.CreateVectorOfStrings(tail->engine_outputs);
    }
    return fb::CreatePlanGraph(
        fbb_, fbb_.CreateString(g.name), fbb_.CreateVector(values), fbb_.CreateVector(constants),
        fbb_.CreateVector(nodes), fbb_.CreateVector(indices(scope, g.inputs(), "graph input")),
        fbb_.CreateVector(indices(scope, g.outputs(), "graph output")), memory_table, tail_graph,
        tail_reason, engine_inputs, engine_outputs);
  }

  // A graph one level below the current one (a subgraph attribute, or the host part), refused
  // past the depth the reader accepts. `owner` names what holds it.
  fbs::Offset<fb::PlanGraph> nested_graph(const ir::Graph& g, const std::string& owner) {
    if (depth_ + 1 > kMaxSubgraphDepth) {
      fail(ErrorCode::kUnsupported, "cannot write plan: subgraph '", g.name, "' (", owner,
           ") is nested ", depth_ + 1, " levels deep; a plan holds subgraphs nested at most ",
           kMaxSubgraphDepth, " levels deep");
    }
    ++depth_;
    fbs::Offset<fb::PlanGraph> out = graph(g);
    --depth_;
    return out;
  }

  // Tensors are named in the plan; the file refers to them by value index (-1 for none).
  int32_t index_of_name(const Scope& scope, const std::string& name, const char* what) const {
    if (name.empty()) return -1;
    if (auto it = scope.index_by_name.find(name); it != scope.index_by_name.end())
      return it->second;
    fail(ErrorCode::kInternal, "cannot write plan: memory plan ", what, " '", name,
         "' is not a value of graph '", scope.graph.name, "'");
  }

  fbs::Offset<fb::MemoryPlan> memory_plan(const Scope& scope, const MemoryPlan& m) {
    std::vector<fbs::Offset<fb::InputShape>> inputs;
    for (const auto& [name, shape] : m.input_shapes) {
      inputs.push_back(fb::CreateInputShape(fbb_, index_of_name(scope, name, "input"),
                                            fbb_.CreateVector(shape)));
    }
    std::vector<fbs::Offset<fb::TensorPlacement>> tensors;
    for (const TensorPlacement& t : m.tensors) {
      tensors.push_back(
          fb::CreateTensorPlacement(fbb_, index_of_name(scope, t.name, "tensor"), t.offset, t.bytes,
                                    index_of_name(scope, t.alias_of, "view source"),
                                    index_of_name(scope, t.in_place_of, "in-place source"),
                                    index_of_name(scope, t.concat_into, "concat output")));
    }
    return fb::CreateMemoryPlan(fbb_, m.arena_bytes, m.total_bytes, m.lower_bound_bytes,
                                fbb_.CreateVector(inputs), fbb_.CreateVector(tensors),
                                static_cast<uint8_t>(m.graph_outputs));
  }

  int32_t index_of(const Scope& scope, const ir::Value* v, const char* what) const {
    if (!v) return -1;
    auto it = scope.index.find(v);
    if (it == scope.index.end()) {
      fail(ErrorCode::kInternal, "cannot write plan: ", what, " '", v->name,
           "' is not a value of graph '", scope.graph.name, "'");
    }
    return it->second;
  }

  std::vector<int32_t> indices(const Scope& scope, const std::vector<ir::Value*>& vs,
                               const char* what) const {
    std::vector<int32_t> out;
    for (const ir::Value* v : vs) out.push_back(index_of(scope, v, what));
    return out;
  }

  fbs::Offset<fb::TensorRef> tensor(const Tensor& t) {
    if (!t.defined()) {
      return fb::CreateTensorRef(fbb_, 0, 0, 0, 0, /*defined=*/false);
    }
    uint64_t offset = weights_.place(t);
    return fb::CreateTensorRef(fbb_, static_cast<uint8_t>(t.dtype()), fbb_.CreateVector(t.shape()),
                               offset, t.nbytes());
  }

  fbs::Offset<fb::Value> value(const ir::Value& v) {
    fbs::Offset<fbs::Vector<fbs::Offset<fb::Dim>>> dims;
    if (v.shape) {
      std::vector<fbs::Offset<fb::Dim>> ds;
      for (const ir::Dim& d : *v.shape) {
        ds.push_back(fb::CreateDim(fbb_, d.known() ? d.value : -1,
                                   d.symbol.empty() ? 0 : fbb_.CreateString(d.symbol)));
      }
      dims = fbb_.CreateVector(ds);
    }
    return fb::CreateValue(fbb_, fbb_.CreateString(v.name), static_cast<uint8_t>(v.dtype),
                           v.shape.has_value(), dims);
  }

  // `node` describes the node the attribute belongs to.
  fbs::Offset<fb::Attribute> attribute(const std::string& name, const ir::AttrValue& a,
                                       const std::string& node) {
    auto key = fbb_.CreateString(name);
    struct Visitor {
      MetadataWriter& w;
      fbs::Offset<fbs::String> key;
      std::string owner;  // for errors: the node and attribute
      fbs::Offset<fb::Attribute> operator()(int64_t x) const {
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Int, x);
      }
      fbs::Offset<fb::Attribute> operator()(float x) const {
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Float, 0, x);
      }
      fbs::Offset<fb::Attribute> operator()(const std::string& x) const {
        auto s = w.fbb_.CreateString(x);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_String, 0, 0, s);
      }
      fbs::Offset<fb::Attribute> operator()(const std::vector<int64_t>& x) const {
        auto v = w.fbb_.CreateVector(x);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Ints, 0, 0, 0, v);
      }
      fbs::Offset<fb::Attribute> operator()(const std::vector<float>& x) const {
        auto v = w.fbb_.CreateVector(x);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Floats, 0, 0, 0, 0, v);
      }
      fbs::Offset<fb::Attribute> operator()(const std::vector<std::string>& x) const {
        auto v = w.fbb_.CreateVectorOfStrings(x);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Strings, 0, 0, 0, 0, 0, v);
      }
      fbs::Offset<fb::Attribute> operator()(const Tensor& x) const {
        auto t = w.tensor(x);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Tensor, 0, 0, 0, 0, 0, 0, t);
      }
      fbs::Offset<fb::Attribute> operator()(const ir::GraphAttr& x) const {
        if (!x) fail(ErrorCode::kInternal, "cannot write plan: attribute is an empty graph");
        auto g = w.nested_graph(*x, owner);
        return fb::CreateAttribute(w.fbb_, key, fb::AttributeKind_Graph, 0, 0, 0, 0, 0, 0, 0, g);
      }
    };
    return std::visit(Visitor{*this, key, cat(node, " attribute '", name, "'")}, a);
  }

  fbs::Offset<fb::Node> node(const Scope& scope, const ir::Node& n) {
    std::vector<fbs::Offset<fb::Attribute>> attrs;
    for (const auto& [k, v] : n.attrs.all()) attrs.push_back(attribute(k, v, n.describe()));
    return fb::CreateNode(fbb_, fbb_.CreateString(n.name), fbb_.CreateString(n.op),
                          fbb_.CreateString(n.domain),
                          fbb_.CreateVector(indices(scope, n.inputs, "an input of a node")),
                          fbb_.CreateVector(indices(scope, n.outputs, "an output of a node")),
                          fbb_.CreateVector(attrs), fbb_.CreateVectorOfStrings(n.origins));
  }

  fbs::FlatBufferBuilder fbb_{1 << 16};
  WeightsLayout weights_;
  int depth_ = 0;  // of the graph being written: 0 for the main graph
};

}  // namespace

std::vector<uint8_t> write_plan(const ir::Graph& graph, Backend backend, const MemoryPlan* memory,
                                const HostTailSection* tail) {
  MetadataWriter writer;
  fbs::DetachedBuffer metadata = writer.build(graph, memory, tail);

  PlanHeader h;
  h.kiln_version = std::string(version());
  h.backend = static_cast<uint8_t>(backend);
  h.metadata_offset = kHeaderSize;
  h.metadata_size = metadata.size();
  h.weights_offset = align_up(h.metadata_offset + h.metadata_size, kWeightsSectionAlignment);
  h.weights_size = writer.weights().size();
  h.file_size = h.weights_offset + h.weights_size;

  std::vector<uint8_t> file(h.file_size, 0);
  encode_header(h, file);
  std::memcpy(file.data() + h.metadata_offset, metadata.data(), metadata.size());
  writer.weights().copy_into(file.data() + h.weights_offset);
  seal(file);
  return file;
}

}  // namespace kiln::plan
