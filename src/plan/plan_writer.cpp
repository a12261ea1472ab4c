// Serializes a graph into a plan file: header, FlatBuffers metadata, then the weights section with
// every tensor 64-byte aligned. Tensors that share a buffer (clones of one constant) are stored
// once.
#include <cstring>
#include <map>
#include <unordered_map>

#include "core/error.hpp"
#include "plan/plan_file.hpp"
#include "plan/plan_header.hpp"
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
  MetadataWriter(const ir::Graph& g, const MemoryPlan* memory) : graph_(g), memory_(memory) {
    for (const auto& v : g.values()) {
      index_.emplace(v.get(), static_cast<int32_t>(index_.size()));
    }
  }

  // Builds the metadata and lays out the weights; returns the finished FlatBuffer.
  fbs::DetachedBuffer build() {
    std::vector<fbs::Offset<fb::Value>> values;
    std::vector<fbs::Offset<fb::Constant>> constants;
    for (const auto& v : graph_.values()) {
      values.push_back(value(*v));
      if (v->constant) {
        constants.push_back(fb::CreateConstant(fbb_, index_.at(v.get()), tensor(*v->constant)));
      }
    }
    std::vector<fbs::Offset<fb::Node>> nodes;
    for (const auto& n : graph_.nodes()) nodes.push_back(node(*n));
    auto memory = memory_ ? memory_plan(*memory_) : 0;
    auto root =
        fb::CreatePlanGraph(fbb_, fbb_.CreateString(graph_.name), fbb_.CreateVector(values),
                            fbb_.CreateVector(constants), fbb_.CreateVector(nodes),
                            fbb_.CreateVector(indices(graph_.inputs(), "graph input")),
                            fbb_.CreateVector(indices(graph_.outputs(), "graph output")), memory);
    fbb_.Finish(root);
    return fbb_.Release();
  }

  const WeightsLayout& weights() const { return weights_; }

 private:
  int32_t index_of(const ir::Value* v, const char* what) const {
    if (!v) return -1;
    auto it = index_.find(v);
    if (it == index_.end()) {
      fail(ErrorCode::kInternal, "cannot write plan: ", what, " '", v->name,
           "' is not a value of graph '", graph_.name, "'");
    }
    return it->second;
  }

  std::vector<int32_t> indices(const std::vector<ir::Value*>& vs, const char* what) const {
    std::vector<int32_t> out;
    for (const ir::Value* v : vs) out.push_back(index_of(v, what));
    return out;
  }

  int32_t index_of_name(const std::string& name, const char* what) const {
    if (name.empty()) return -1;
    auto it = by_name_.find(name);
    const ir::Value* v = it == by_name_.end() ? nullptr : it->second;
    if (!v) {
      fail(ErrorCode::kInternal, "cannot write plan: the memory plan's ", what, " '", name,
           "' is not a value of graph '", graph_.name, "'");
    }
    return index_of(v, what);
  }

  fbs::Offset<fb::MemoryPlan> memory_plan(const MemoryPlan& m) {
    for (const auto& v : graph_.values()) by_name_.emplace(v->name, v.get());
    std::vector<fbs::Offset<fb::InputShape>> inputs;
    for (const auto& [name, shape] : m.input_shapes) {
      inputs.push_back(
          fb::CreateInputShape(fbb_, index_of_name(name, "input"), fbb_.CreateVector(shape)));
    }
    std::vector<fbs::Offset<fb::TensorPlacement>> tensors;
    for (const TensorPlacement& t : m.tensors) {
      tensors.push_back(fb::CreateTensorPlacement(fbb_, index_of_name(t.name, "tensor"), t.offset,
                                                  t.bytes, index_of_name(t.alias_of, "view source"),
                                                  index_of_name(t.in_place_of, "in-place source")));
    }
    return fb::CreateMemoryPlan(fbb_, m.arena_bytes, m.total_bytes, m.lower_bound_bytes,
                                fbb_.CreateVector(inputs), fbb_.CreateVector(tensors));
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

  fbs::Offset<fb::Attribute> attribute(const std::string& name, const ir::AttrValue& a) {
    auto key = fbb_.CreateString(name);
    struct Visitor {
      MetadataWriter& w;
      fbs::Offset<fbs::String> key;
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
    };
    return std::visit(Visitor{*this, key}, a);
  }

  fbs::Offset<fb::Node> node(const ir::Node& n) {
    std::vector<fbs::Offset<fb::Attribute>> attrs;
    for (const auto& [k, v] : n.attrs.all()) attrs.push_back(attribute(k, v));
    return fb::CreateNode(fbb_, fbb_.CreateString(n.name), fbb_.CreateString(n.op),
                          fbb_.CreateString(n.domain),
                          fbb_.CreateVector(indices(n.inputs, "an input of a node")),
                          fbb_.CreateVector(indices(n.outputs, "an output of a node")),
                          fbb_.CreateVector(attrs), fbb_.CreateVectorOfStrings(n.origins));
  }

  const ir::Graph& graph_;
  const MemoryPlan* memory_;
  std::unordered_map<std::string, const ir::Value*> by_name_;
  std::unordered_map<const ir::Value*, int32_t> index_;
  fbs::FlatBufferBuilder fbb_{1 << 16};
  WeightsLayout weights_;
};

}  // namespace

std::vector<uint8_t> write_plan(const ir::Graph& graph, Backend backend, const MemoryPlan* memory) {
  MetadataWriter writer(graph, memory);
  fbs::DetachedBuffer metadata = writer.build();

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
