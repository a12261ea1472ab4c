// Reads a plan file defensively: the file is untrusted, so the header, checksum, FlatBuffers
// structure, every index, offset, dtype and size are checked before anything is built from it.
// Constants and tensor attributes borrow their bytes from the mapped file.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <set>

#include "core/checked_size.hpp"
#include "core/error.hpp"
#include "ir/shape_inference.hpp"
#include "ir/verifier.hpp"
#include "plan/plan_file.hpp"
#include "plan/plan_header.hpp"
#include "plan/plan_limits.hpp"
#include "plan_schema_generated.h"

namespace kiln::plan {
namespace {

namespace fbs = flatbuffers;

template <typename... Parts>
[[noreturn]] void refuse(const std::string& source, const Parts&... parts) {
  fail(ErrorCode::kInvalidPlan, "plan file '", source, "' ", parts...);
}

std::string backend_name(uint8_t b) {
  if (b == static_cast<uint8_t>(Backend::kCpu) || b == static_cast<uint8_t>(Backend::kCuda)) {
    return std::string(to_string(static_cast<Backend>(b)));
  }
  return cat("unknown (", int(b), ")");
}

// Header checks, in the order that gives the most useful message: a plan from another kiln or
// for another target is named as such before the checksum is even looked at.
PlanHeader check_header(std::span<const uint8_t> file, const std::string& source,
                        std::optional<Backend> expected) {
  if (file.size() < kHeaderSize || !has_magic(file)) {
    if (!has_magic(file.first(std::min(file.size(), sizeof(kMagic))))) {
      refuse(source, "is not a kiln plan (it does not start with \"KILNPLAN\")");
    }
    refuse(source, "is truncated: it has ", file.size(), " bytes, less than the ", kHeaderSize,
           "-byte header");
  }
  PlanHeader h = decode_header(file);
  if (h.format_version != kFormatVersion) {
    refuse(source, "has plan format version ", h.format_version, "; this kiln reads version ",
           kFormatVersion);
  }
  if (h.header_size != kHeaderSize) {
    refuse(source, "has a ", h.header_size, "-byte header; format version ", kFormatVersion,
           " has ", kHeaderSize);
  }
  if (h.kiln_version != version()) {
    refuse(source, "was built by kiln ", h.kiln_version.empty() ? "(unknown)" : h.kiln_version,
           "; this is kiln ", version(), ": rebuild the plan with this version");
  }
  std::string target = backend_name(h.backend);
  if (target.starts_with("unknown")) refuse(source, "names an ", target, " target backend");
  if (expected && static_cast<uint8_t>(*expected) != h.backend) {
    refuse(source, "was built for the ", target, " backend, not for ", to_string(*expected));
  }
  if (h.flags != 0) refuse(source, "has unknown flags 0x", std::hex, h.flags);
  if (h.file_size != file.size()) {
    if (h.file_size > file.size()) {
      refuse(source, "is truncated: it has ", file.size(), " bytes, its header says ", h.file_size);
    }
    refuse(source, "has ", file.size() - h.file_size, " unexpected bytes after its end");
  }
  if (compute_checksum(file) != h.checksum) {
    refuse(source, "is corrupt: its checksum does not match its contents");
  }
  // Sections: metadata right after the header, weights page-aligned after it, ending the file.
  uint64_t size = file.size();
  if (h.metadata_offset < kHeaderSize || h.metadata_offset > size ||
      h.metadata_size > size - h.metadata_offset) {
    refuse(source, "has a metadata section outside the file");
  }
  if (h.weights_offset % kWeightsSectionAlignment != 0 ||
      h.weights_offset < h.metadata_offset + h.metadata_size || h.weights_offset > size ||
      h.weights_size != size - h.weights_offset) {
    refuse(source, "has a misplaced weights section (offset ", h.weights_offset, ", size ",
           h.weights_size, ", file ", size, " bytes)");
  }
  return h;
}

// Builds the graph from verified FlatBuffers metadata, checking every cross-reference.
class GraphDecoder {
 public:
  GraphDecoder(const std::string& source, uint64_t metadata_size, uint8_t* weights,
               uint64_t weights_size, std::shared_ptr<void> keep_alive)
      : source_(source),
        // A well-formed metadata section never decodes to more than a few times its size; a
        // hostile one can point many entries at one big string or vector, so bound the total.
        budget_(4 * metadata_size + 65536),
        weights_(weights),
        weights_size_(weights_size),
        keep_alive_(std::move(keep_alive)) {}

  std::unique_ptr<ir::Graph> decode(const fb::PlanGraph& root) { return decode_graph(root, 0); }

  // A split engine's host part: a graph of its own, which may not have a host part itself.
  std::unique_ptr<ir::Graph> decode_host_tail(const fb::PlanGraph& tail) {
    if (tail.host_tail() || tail.memory()) {
      refuse(source_, "is invalid: its host part has a host part or a memory plan of its own");
    }
    return decode_graph(tail, 1);
  }

  std::string text(const fbs::String* s) { return str(s); }

  std::vector<std::string> names(const fbs::Vector<fbs::Offset<fbs::String>>* list,
                                 const char* what) {
    std::vector<std::string> out;
    for (size_t i = 0, n = count(list); i < n; ++i) {
      out.push_back(str(list->Get(i)));
      if (out.back().empty()) refuse(source_, "is invalid: an empty name in its ", what);
    }
    return out;
  }

 private:
  // A subgraph has its own values; the enclosing graph's decoding state is set aside meanwhile.
  struct GraphState {
    std::vector<ir::Value*> values;
    std::set<const ir::Value*> consumed;
    std::set<const ir::Value*> is_graph_input;
    int depth = 0;
  };

  std::unique_ptr<ir::Graph> decode_graph(const fb::PlanGraph& root, int depth) {
    if (depth > kMaxSubgraphDepth) {
      refuse(source_, "is invalid: its subgraphs nest more than ", kMaxSubgraphDepth,
             " levels deep");
    }
    GraphState outer{std::move(values_), std::move(consumed_), std::move(is_graph_input_), depth_};
    values_.clear();
    consumed_.clear();
    is_graph_input_.clear();
    depth_ = depth;
    std::unique_ptr<ir::Graph> g = decode_body(root);
    values_ = std::move(outer.values);
    consumed_ = std::move(outer.consumed);
    is_graph_input_ = std::move(outer.is_graph_input);
    depth_ = outer.depth;
    return g;
  }

  std::unique_ptr<ir::Graph> decode_body(const fb::PlanGraph& root) {
    auto g = std::make_unique<ir::Graph>();
    g->name = str(root.name());
    size_t n_values = count(root.values());
    for (size_t i = 0; i < n_values; ++i) values_.push_back(value(*g, root.values()->Get(i), i));
    for (size_t i = 0, n = count(root.constants()); i < n; ++i)
      constant(root.constants()->Get(i), i);
    for (int32_t idx : ints<int32_t>(root.inputs())) {
      ir::Value* v = lookup(idx, cat("graph input list"));
      if (!v) refuse(source_, "is invalid: the graph input list has an omitted (-1) entry");
      g->inputs().push_back(v);
      is_graph_input_.insert(v);
    }
    for (size_t i = 0, n = count(root.nodes()); i < n; ++i) node(*g, root.nodes()->Get(i), i);
    for (int32_t idx : ints<int32_t>(root.outputs())) {
      ir::Value* v = lookup(idx, "graph output list");
      if (!v) refuse(source_, "is invalid: the graph output list has an omitted (-1) entry");
      g->outputs().push_back(v);
    }
    return g;
  }

  // The memory plan, checked against the decoded graph: an unsafe plan could make layers
  // overwrite live tensors, so it is refused like any other inconsistency.
 public:
  std::optional<MemoryPlan> memory_plan(const fb::MemoryPlan* m, const ir::Graph& g) {
    if (!m) return std::nullopt;
    // Indices refer to the main graph's values, in the order they were decoded.
    auto lookup = [&](int32_t idx, const std::string& what) -> ir::Value* {
      if (idx == -1) return nullptr;
      if (idx < 0 || static_cast<size_t>(idx) >= g.values().size()) {
        refuse(source_, "is invalid: ", what, " refers to value ", idx, ", out of range");
      }
      return g.values()[static_cast<size_t>(idx)].get();
    };
    MemoryPlan plan;
    plan.arena_bytes = m->arena_size();
    plan.total_bytes = m->total_size();
    plan.lower_bound_bytes = m->lower_bound();
    switch (m->graph_outputs()) {
      case static_cast<uint8_t>(GraphOutputMemory::kArena):
        plan.graph_outputs = GraphOutputMemory::kArena;
        break;
      case static_cast<uint8_t>(GraphOutputMemory::kCaller):
        plan.graph_outputs = GraphOutputMemory::kCaller;
        break;
      default:
        refuse(source_, "is invalid: its memory plan keeps graph outputs in unknown memory (",
               int{m->graph_outputs()}, ")");
    }
    for (size_t i = 0, n = count(m->input_shapes()); i < n; ++i) {
      const fb::InputShape* s = m->input_shapes()->Get(i);
      ir::Value* v = lookup(s->value(), "memory plan input shape");
      // An unnamed value could not be written back (the writer names tensors).
      if (!v || v->name.empty() || plan.input_shapes.count(v->name)) {
        refuse(source_,
               "is invalid: its memory plan has a missing, unnamed or repeated input shape");
      }
      plan.input_shapes[v->name] = ints<int64_t>(s->dims());
    }
    auto name_of = [&](int32_t idx, const char* what) {
      ir::Value* v = lookup(idx, cat("memory plan ", what));
      return v ? v->name : std::string();
    };
    for (size_t i = 0, n = count(m->tensors()); i < n; ++i) {
      const fb::TensorPlacement* t = m->tensors()->Get(i);
      TensorPlacement p;
      p.name = name_of(t->value(), "tensor");
      if (p.name.empty()) refuse(source_, "is invalid: its memory plan places no tensor");
      p.offset = t->offset();
      p.bytes = t->size();
      p.alias_of = name_of(t->alias_of(), "view source");
      p.in_place_of = name_of(t->in_place_of(), "in-place source");
      p.concat_into = name_of(t->concat_into(), "concat output");
      int roles =
          int{!p.alias_of.empty()} + int{!p.in_place_of.empty()} + int{!p.concat_into.empty()};
      if (roles > 1) {
        refuse(source_, "is invalid: tensor '", p.name,
               "' is more than one of a view, written in place and written into a concat");
      }
      plan.tensors.push_back(std::move(p));
    }
    std::string problem;
    try {
      problem = memory_plan_problem(g, plan);
    } catch (const Error& e) {  // e.g. a value whose dims overflow when multiplied
      problem = e.what();
    }
    if (!problem.empty()) refuse(source_, "is invalid: its memory plan is unsafe: ", problem);
    return plan;
  }

 private:
  // Every decoded element is charged once (count() is called once per vector, never per loop
  // iteration).
  void spend(uint64_t bytes) {
    if (bytes > budget_) {
      refuse(source_, "is invalid: its metadata refers to the same data over and over");
    }
    budget_ -= bytes;
  }

  template <typename T>
  size_t count(const fbs::Vector<T>* v) {
    size_t n = v ? v->size() : 0;
    spend(8 * static_cast<uint64_t>(n));
    return n;
  }

  std::string str(const fbs::String* s) {
    if (!s) return {};
    spend(s->size() + 8);
    return s->str();
  }

  // The verifier checks a vector's bounds and its length field's alignment, not that 8-byte
  // elements sit at 8-byte offsets, which a crafted file need not keep: each element is copied
  // out of the bytes rather than loaded through a misaligned pointer.
  template <typename T, typename S>
  std::vector<T> ints(const fbs::Vector<S>* v) {
    size_t n = count(v);
    std::vector<T> out;
    out.reserve(n);
    const uint8_t* bytes = n ? v->Data() : nullptr;
    for (size_t i = 0; i < n; ++i) {
      S x;
      std::memcpy(&x, bytes + i * sizeof(S), sizeof(S));
      out.push_back(static_cast<T>(fbs::EndianScalar(x)));
    }
    return out;
  }

  std::vector<std::string> strings(const fbs::Vector<fbs::Offset<fbs::String>>* v) {
    std::vector<std::string> out;
    for (size_t i = 0, n = count(v); i < n; ++i) out.push_back(str(v->Get(i)));
    return out;
  }

  DataType dtype(uint8_t raw, const std::string& what) {
    if (raw < static_cast<uint8_t>(DataType::kFloat32) ||
        raw > static_cast<uint8_t>(DataType::kBool)) {
      refuse(source_, "is invalid: ", what, " has unknown dtype code ", int(raw));
    }
    return static_cast<DataType>(raw);
  }

  ir::Value* lookup(int32_t idx, const std::string& what) {
    if (idx == -1) return nullptr;
    if (idx < -1 || static_cast<size_t>(idx) >= values_.size()) {
      refuse(source_, "is invalid: ", what, " refers to value ", idx, ", but the plan has ",
             values_.size(), " values");
    }
    return values_[static_cast<size_t>(idx)];
  }

  // True if `shape` (of a value) describes a tensor of shape `dims`: same rank, every known dim
  // equal.
  static bool matches(const ir::SymShape& shape, const Shape& dims) {
    if (shape.size() != dims.size()) return false;
    for (size_t d = 0; d < dims.size(); ++d) {
      if (shape[d].known() && shape[d].value != dims[d]) return false;
    }
    return true;
  }

  ir::Value* value(ir::Graph& g, const fb::Value* v, size_t i) {
    std::string what = cat("value ", i);
    std::string name = str(v->name());
    DataType dt = dtype(v->dtype(), what + " ('" + name + "')");
    std::optional<ir::SymShape> shape;
    if (v->has_shape()) {
      shape.emplace();
      for (size_t d = 0, n_d = count(v->dims()); d < n_d; ++d) {
        const fb::Dim* dim = v->dims()->Get(d);
        if (dim->value() < -1) {
          refuse(source_, "is invalid: value '", name, "' has dimension ", dim->value());
        }
        ir::Dim out(dim->value());
        out.symbol = str(dim->symbol());
        shape->push_back(std::move(out));
      }
      if (std::optional<std::string> problem = ir::shape_size_problem(*shape, dt)) {
        refuse(source_, "is invalid: value '", name, "' has ", *problem);
      }
    }
    return g.add_value(name, dt, std::move(shape));
  }

  Tensor tensor(const fb::TensorRef* r, const std::string& what) {
    if (!r) refuse(source_, "is invalid: ", what, " has no tensor data");
    if (!r->defined()) return Tensor();
    DataType dt = dtype(r->dtype(), what);
    Shape shape = ints<int64_t>(r->shape());
    // Negative dims, counts past 64 bits and sizes past the limit fail before any arithmetic.
    size_t es = element_size(dt);
    int64_t numel = checked_numel(shape, es, ErrorCode::kInvalidPlan,
                                  cat("plan file '", source_, "' is invalid: ", what));
    if (static_cast<uint64_t>(numel) * es != r->size()) {
      refuse(source_, "is invalid: ", what, " of ", to_string(dt), shape_to_string(shape),
             " claims ", r->size(), " bytes");
    }
    if (r->offset() % kTensorAlignment != 0 || r->offset() > weights_size_ ||
        r->size() > weights_size_ - r->offset()) {
      refuse(source_, "is invalid: ", what, " lies outside the weights section (offset ",
             r->offset(), ", ", r->size(), " bytes, section ", weights_size_, " bytes)");
    }
    return Tensor::borrow(dt, std::move(shape), weights_ + r->offset(), keep_alive_);
  }

  void constant(const fb::Constant* c, size_t i) {
    std::string what = cat("constant ", i);
    ir::Value* v = lookup(c->value(), what);
    if (!v) refuse(source_, "is invalid: ", what, " has no value");
    if (v->constant) refuse(source_, "is invalid: value '", v->name, "' has two constants");
    Tensor t = tensor(c->data(), "constant '" + v->name + "'");
    if (!t.defined() || t.dtype() != v->dtype) {
      refuse(source_, "is invalid: constant '", v->name, "' does not match its value's dtype ",
             to_string(v->dtype));
    }
    // Inference and the planners read the value's shape, the kernels the tensor's: they must
    // agree, or a kernel would walk past the constant's bytes.
    if (v->shape && !matches(*v->shape, t.shape())) {
      refuse(source_, "is invalid: constant '", v->name, "' holds ", to_string(t.dtype()),
             shape_to_string(t.shape()), " but its value has shape ",
             ir::sym_shape_to_string(v->shape));
    }
    v->shape = ir::to_sym_shape(t.shape());
    v->constant = std::move(t);
  }

  ir::AttrValue attribute(const fb::Attribute* a, const std::string& what) {
    switch (a->kind()) {
      case fb::AttributeKind_Int:
        return a->i();
      case fb::AttributeKind_Float:
        return a->f();
      case fb::AttributeKind_String:
        return str(a->s());
      case fb::AttributeKind_Ints:
        return ints<int64_t>(a->ints());
      case fb::AttributeKind_Floats:
        return ints<float>(a->floats());
      case fb::AttributeKind_Strings:
        return strings(a->strings());
      case fb::AttributeKind_Tensor:
        return tensor(a->tensor(), what);
      case fb::AttributeKind_Graph:
        if (!a->graph()) refuse(source_, "is invalid: ", what, " has no graph");
        return ir::GraphAttr(decode_graph(*a->graph(), depth_ + 1));
    }
    refuse(source_, "is invalid: ", what, " has unknown kind ", int(a->kind()));
  }

  void node(ir::Graph& g, const fb::Node* n, size_t i) {
    std::string name = str(n->name());
    std::string where = cat("node ", i, " ('", name, "')");
    std::vector<ir::Value*> ins, outs;
    for (int32_t idx : ints<int32_t>(n->inputs())) {
      ir::Value* v = lookup(idx, where + " input");
      if (v) consumed_.insert(v);
      ins.push_back(v);
    }
    for (int32_t idx : ints<int32_t>(n->outputs())) {
      ir::Value* v = lookup(idx, where + " output");
      if (v && (v->producer || v->constant || is_graph_input_.count(v))) {
        refuse(source_, "is invalid: ", where, " writes value '", v->name,
               "', which is already a constant, a graph input or another node's output");
      }
      if (v && consumed_.count(v)) {
        refuse(source_, "is invalid: value '", v->name, "' is used before ", where,
               " produces it (the nodes are out of order or form a cycle)");
      }
      outs.push_back(v);
    }
    ir::Node* node = g.add_node(str(n->op()), name, std::move(ins), std::move(outs));
    node->domain = str(n->domain());
    node->attrs.set_owner(node->describe());
    for (size_t k = 0, n_k = count(n->attributes()); k < n_k; ++k) {
      const fb::Attribute* a = n->attributes()->Get(k);
      std::string key = str(a->name());
      if (node->attrs.has(key))
        refuse(source_, "is invalid: ", where, " repeats attribute '", key, "'");
      node->attrs.set(key, attribute(a, cat(where, " attribute '", key, "'")));
    }
    node->origins = strings(n->origins());
  }

  std::string source_;
  uint64_t budget_;
  uint8_t* weights_;
  uint64_t weights_size_;
  std::shared_ptr<void> keep_alive_;
  std::vector<ir::Value*> values_;
  std::set<const ir::Value*> consumed_;
  std::set<const ir::Value*> is_graph_input_;
  int depth_ = 0;  // of the graph being decoded: 0 for the main graph
};

// `file` must stay valid as long as `keep_alive` lives; constants point into it.
LoadedPlan parse(std::span<uint8_t> file, std::shared_ptr<void> keep_alive,
                 const std::string& source, std::optional<Backend> expected) {
  PlanHeader h = check_header(file, source, expected);
  const uint8_t* metadata = file.data() + h.metadata_offset;
  // Every table counts against max_tables, which bounds the verifier's work on a hostile buffer
  // that references one table many times. The depth bound leaves room for kMaxSubgraphDepth.
  fbs::Verifier verifier(metadata, h.metadata_size, /*max_depth=*/kMaxFlatBuffersDepth,
                         /*max_tables=*/1u << 26);
  if (h.metadata_size < 8 || !fb::VerifyPlanGraphBuffer(verifier)) {
    refuse(source, "is corrupt: its metadata section is not a valid plan graph");
  }
  GraphDecoder decoder(source, h.metadata_size, file.data() + h.weights_offset, h.weights_size,
                       std::move(keep_alive));
  LoadedPlan out;
  const fb::PlanGraph* root = fb::GetPlanGraph(metadata);
  out.graph = decoder.decode(*root);
  out.memory = decoder.memory_plan(root->memory(), *out.graph);
  out.backend = static_cast<Backend>(h.backend);
  if (root->host_tail()) {
    if (out.backend != Backend::kCuda) {
      refuse(source, "is invalid: only GPU plans have a host part, and this one is for ",
             to_string(out.backend));
    }
    out.host_tail = decoder.decode_host_tail(*root->host_tail());
    out.host_tail_reason = decoder.text(root->host_tail_reason());
    out.engine_inputs = decoder.names(root->engine_inputs(), "engine input list");
    out.engine_outputs = decoder.names(root->engine_outputs(), "engine output list");
  }
  return out;
}

// An open file descriptor that closes itself.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

void verify_plan_graph(const ir::Graph& graph, const std::string& source) {
  try {
    ir::verify_graph(graph, ErrorCode::kInvalidPlan);
  } catch (const Error& e) {
    refuse(source, "is invalid: ", e.what());
  }
}

bool looks_like_plan(std::string_view bytes) {
  return has_magic({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

LoadedPlan read_plan_bytes(std::string_view bytes, const std::string& source,
                           std::optional<Backend> expected) {
  // One aligned copy, so the weights section (page-aligned in the file) is aligned in memory too.
  size_t n = std::max<size_t>(bytes.size(), 1);
  auto* p = static_cast<uint8_t*>(::operator new(n, std::align_val_t(kWeightsSectionAlignment)));
  std::shared_ptr<void> owner(
      p, [](void* q) { ::operator delete(q, std::align_val_t(kWeightsSectionAlignment)); });
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return parse({p, bytes.size()}, std::move(owner), source, expected);
}

LoadedPlan read_plan_file(const std::string& path, std::optional<Backend> expected) {
  FileDescriptor f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) fail(ErrorCode::kIo, "cannot open plan file '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fail(ErrorCode::kIo, "cannot read plan file '", path, "': not a regular file");
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size < kHeaderSize) {
    // Too small to map usefully; read what is there so the message can say what it is.
    std::vector<uint8_t> head(size);
    if (size && ::pread(f.fd, head.data(), size, 0) != static_cast<ssize_t>(size)) {
      fail(ErrorCode::kIo, "cannot read plan file '", path, "'");
    }
    check_header(head, path, expected);  // always refuses
  }
  // Private and writable: a kernel that wrote to a constant would get its own page copy rather
  // than a crash or a modified file.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
  if (map == MAP_FAILED) {
    fail(ErrorCode::kIo, "cannot map plan file '", path, "': ", std::strerror(errno));
  }
  std::shared_ptr<void> mapping(map, [size](void* q) { ::munmap(q, size); });
  return parse({static_cast<uint8_t*>(map), size}, std::move(mapping), path, expected);
}

}  // namespace kiln::plan
