// Reads a ModelProto and converts its graph: initializers and Constant nodes become constant
// values, every other node becomes an IR node passed through its op's import function, and
// subgraphs (If, Loop, Scan) become closed subgraph attributes. All unsupported nodes, in
// subgraphs too, are collected and reported together.
#include "onnx/importer.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "ir/op_registry.hpp"
#include "ir/shape_inference.hpp"
#include "onnx.pb.h"
#include "onnx/import_context.hpp"
#include "onnx/subgraph_scope.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::onnx {
namespace {

namespace pb = ::onnx;

bool is_default_domain(const std::string& d) {
  return d.empty() || d == "ai.onnx";
}

ir::AttrValue convert_attribute(const pb::AttributeProto& a, const std::string& base_dir,
                                const std::string& owner) {
  std::string what = owner + " attribute '" + a.name() + "'";
  if (!a.ref_attr_name().empty()) {
    fail(ErrorCode::kUnsupported, what,
         " refers to a function attribute, which kiln does not support");
  }
  switch (a.type()) {
    case pb::AttributeProto::INT:
      return a.i();
    case pb::AttributeProto::FLOAT:
      return a.f();
    case pb::AttributeProto::STRING:
      return a.s();
    case pb::AttributeProto::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case pb::AttributeProto::FLOATS:
      return std::vector<float>(a.floats().begin(), a.floats().end());
    case pb::AttributeProto::STRINGS:
      return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case pb::AttributeProto::TENSOR:
      return tensor_from_proto(a.t(), base_dir, what);
    case pb::AttributeProto::GRAPHS:
      fail(ErrorCode::kUnsupported, what, " is a list of graphs, which no op kiln runs takes");
    default:
      fail(ErrorCode::kUnsupported, what, " has attribute type ",
           pb::AttributeProto::AttributeType_Name(a.type()), ", which kiln does not support");
  }
}

// The declared shape of an input, output or value_info entry; `what` names it in the error for a
// shape no tensor can have (its dims multiply past 64 bits, or it is over the size limit).
std::optional<ir::SymShape> shape_from_type(const pb::TypeProto& type, const std::string& what) {
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return std::nullopt;
  ir::SymShape s;
  for (const auto& d : type.tensor_type().shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) {
      s.emplace_back(d.dim_value());
    } else if (d.has_dim_param()) {
      s.push_back(ir::Dim::symbolic(d.dim_param()));
    } else {
      s.emplace_back();
    }
  }
  // An element type kiln lacks is reported elsewhere; its size is at least one byte.
  DataType dtype = from_onnx_dtype(type.tensor_type().elem_type()).value_or(DataType::kUInt8);
  if (std::optional<std::string> problem = ir::shape_size_problem(s, dtype)) {
    fail(ErrorCode::kInvalidModel, what, " declares ", *problem);
  }
  return s;
}

struct Unsupported {
  std::string node;
  std::string op;
  std::string domain;
  int opset;
  std::string reason;
};

// What the importers of the main graph and of all its subgraphs share.
struct ModelState {
  const pb::ModelProto& model;
  std::string base_dir;
  std::string source;
  std::map<std::string, int> opsets;
  int opset = 0;                         // of the default domain
  std::vector<Unsupported> unsupported;  // gathered over every graph, reported once
};

// Imports one graph: the model's main graph, or a subgraph. A subgraph becomes a closed function:
// the outer values it reads (its free names) become extra inputs after its own, or constants of
// its own when the outer value is a constant; the owning node passes those values as its last
// inputs and records how many in its `num_captures` attribute.
class GraphImporter {
 public:
  // `scope` prefixes node names in the report of unsupported nodes ("loop1/body/").
  GraphImporter(ModelState& model, std::string scope) : m_(model), scope_(std::move(scope)) {}

  std::unique_ptr<ir::Graph> run() {
    read_opsets();
    const pb::GraphProto& g = m_.model.graph();
    import_body(g, /*is_subgraph=*/false);
    report_unsupported();
    finish_outputs(g);
    graph_->sort_topologically();
    ir::infer_graph(*graph_);
    return std::move(graph_);
  }

  // `captures` are the outer values passed as inputs after the subgraph's own (each named as in
  // the outer scope); `outer` resolves the subgraph's other free names, which are constants.
  // The subgraph's types are settled later, by the owner's inference (OpSchema::bind_subgraphs).
  std::unique_ptr<ir::Graph> run_subgraph(const pb::GraphProto& g,
                                          const std::vector<ir::Value*>& captures,
                                          GraphImporter& outer) {
    for (const ir::Value* c : captures) {
      ir::Value* in = graph_->add_value(c->name, c->dtype, c->shape);
      values_[c->name] = in;
    }
    for (const std::string& name : free_names(g)) {
      if (values_.count(name)) continue;
      const ir::Value* v = outer.lookup_input(name);
      values_[name] = graph_->add_constant(name, *v->constant);
    }
    import_body(g, /*is_subgraph=*/true);
    for (const ir::Value* c : captures) graph_->inputs().push_back(values_.at(c->name));
    if (!pending_.empty() && m_.unsupported.empty()) {
      fail(ErrorCode::kInvalidModel, m_.source, ": tensor '", *pending_.begin(), "' is used in ",
           scope_, " but nothing produces it");
    }
    finish_outputs(g);
    graph_->sort_topologically();
    return std::move(graph_);
  }

 private:
  void import_body(const pb::GraphProto& g, bool is_subgraph) {
    graph_->name = g.name();
    for (const auto& init : g.initializer()) {
      if (values_.count(init.name())) {
        fail(ErrorCode::kInvalidModel, m_.source, ": initializer '", init.name(),
             "' is defined twice");
      }
      values_[init.name()] = graph_->add_constant(
          init.name(), tensor_from_proto(init, m_.base_dir, "initializer '" + init.name() + "'"));
    }
    if (g.sparse_initializer_size() > 0) {
      fail(ErrorCode::kUnsupported, m_.source, ": sparse initializers are not supported");
    }
    std::set<std::string> declared;
    for (const auto& in : g.input()) {
      if (!declared.insert(in.name()).second) {
        fail(ErrorCode::kInvalidModel, m_.source, ": ",
             scope_.empty() ? "graph" : cat("subgraph '", scope_.substr(0, scope_.size() - 1), "'"),
             " input '", in.name(), "' is listed twice");
      }
      if (values_.count(in.name())) continue;  // an initializer listed as input (old exporters)
      graph_->inputs().push_back(declare(in, is_subgraph));
    }
    for (const auto& vi : g.value_info()) shapes_[vi.name()] = &vi;
    for (const auto& node : g.node()) import_node(node);
  }

  void finish_outputs(const pb::GraphProto& g) {
    for (const auto& out : g.output()) {
      auto it = values_.find(out.name());
      if (it == values_.end()) {
        fail(ErrorCode::kInvalidModel, m_.source, ": ", scope_.empty() ? "graph" : scope_,
             " output '", out.name(), "' is never produced");
      }
      ir::Value* v = it->second;
      if (!v->shape)
        v->shape = shape_from_type(out.type(), cat(m_.source, ": output '", out.name(), "'"));
      graph_->outputs().push_back(v);
    }
  }

  void read_opsets() {
    for (const auto& o : m_.model.opset_import()) {
      if (is_default_domain(o.domain())) m_.opset = static_cast<int>(o.version());
      m_.opsets[o.domain()] = static_cast<int>(o.version());
    }
    if (m_.model.opset_import_size() == 0) m_.opset = 1;  // ONNX's rule for IR v2 models
    if (m_.opset > kMaxOpset) {
      log(Severity::kWarning, cat(m_.source, ": opset ", m_.opset, " is newer than kiln knows (",
                                  kMaxOpset, "); importing with the newest semantics"));
    }
  }

  // A subgraph may leave its inputs' types out (the owning op defines them); they get a
  // placeholder here that the owner's bind_subgraphs replaces.
  ir::Value* declare(const pb::ValueInfoProto& in, bool is_subgraph) {
    bool untyped = in.type().value_case() == pb::TypeProto::VALUE_NOT_SET ||
                   (in.type().has_tensor_type() && in.type().tensor_type().elem_type() == 0);
    std::string what = cat(m_.source, ": input '", in.name(), "'");
    if (is_subgraph && untyped) {
      ir::Value* v =
          graph_->add_value(in.name(), DataType::kFloat32, shape_from_type(in.type(), what));
      values_[in.name()] = v;
      return v;
    }
    if (!in.type().has_tensor_type()) {
      fail(ErrorCode::kUnsupported, m_.source, ": input '", in.name(),
           "' is not a tensor (sequences, maps and optionals are not supported)");
    }
    int32_t et = in.type().tensor_type().elem_type();
    auto dtype = from_onnx_dtype(et);
    if (!dtype) {
      fail(ErrorCode::kUnsupported, m_.source, ": input '", in.name(), "' has element type ",
           onnx_dtype_name(et), ", which kiln does not support");
    }
    ir::Value* v = graph_->add_value(in.name(), *dtype, shape_from_type(in.type(), what));
    values_[in.name()] = v;
    return v;
  }

  ir::Value* lookup_input(const std::string& name) {
    if (name.empty()) return nullptr;
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    // Produced by a later node (the file is not topologically sorted): forward-declare it.
    ir::Value* v = graph_->add_value(name);
    values_[name] = v;
    pending_.insert(name);
    return v;
  }

  std::string node_label(const pb::NodeProto& node, int index) {
    return node.name().empty() ? cat(node.op_type(), "_", index) : node.name();
  }

  void import_node(const pb::NodeProto& proto) {
    int index = node_index_++;
    std::string name = node_label(proto, index);
    const std::string& domain = proto.domain();
    int opset =
        is_default_domain(domain) ? m_.opset : (m_.opsets.count(domain) ? m_.opsets[domain] : 0);
    if (!is_default_domain(domain)) {
      m_.unsupported.push_back({scope_ + name, proto.op_type(), domain, opset, "custom domain"});
      declare_outputs(proto, nullptr);
      return;
    }
    if (proto.op_type() == "Constant") {
      import_constant(proto, name);
      return;
    }
    if (!ir::OpRegistry::instance().find(proto.op_type())) {
      m_.unsupported.push_back(
          {scope_ + name, proto.op_type(), "ai.onnx", opset, "no implementation"});
      declare_outputs(proto, nullptr);
      return;
    }
    std::vector<ir::Value*> ins;
    for (const auto& i : proto.input()) ins.push_back(lookup_input(i));
    ir::Node* node = graph_->add_node(proto.op_type(), name, ins, {});
    node->origins.push_back(name);
    declare_outputs(proto, node);
    try {
      import_subgraphs(proto, *node);
      for (const auto& a : proto.attribute()) {
        if (a.type() == pb::AttributeProto::GRAPH) continue;  // done by import_subgraphs
        node->attrs.set(a.name(), convert_attribute(a, m_.base_dir, node->describe()));
      }
      if (ImportFn fn = ImporterTable::instance().find(proto.op_type())) {
        ImportContext ctx{*graph_, opset};
        fn(ctx, *node);
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      m_.unsupported.push_back({scope_ + name, proto.op_type(), "ai.onnx", opset, e.what()});
    }
  }

  // Imports the node's graph attributes as closed subgraphs. The non-constant outer values any of
  // them reads are captured once for all (an If's two branches take the same captures) and
  // appended to the node's inputs.
  void import_subgraphs(const pb::NodeProto& proto, ir::Node& node) {
    std::vector<ir::Value*> captures;
    bool any = false;
    for (const auto& a : proto.attribute()) {
      if (a.type() != pb::AttributeProto::GRAPH) continue;
      any = true;
      for (const std::string& name : free_names(a.g())) {
        ir::Value* v = lookup_input(name);
        if (!v->is_constant() && std::find(captures.begin(), captures.end(), v) == captures.end()) {
          captures.push_back(v);
        }
      }
    }
    if (!any) return;
    for (const auto& a : proto.attribute()) {
      if (a.type() != pb::AttributeProto::GRAPH) continue;
      GraphImporter sub(m_, cat(scope_, node.name, "/", a.name(), "/"));
      node.attrs.set(a.name(), ir::GraphAttr(sub.run_subgraph(a.g(), captures, *this)));
    }
    node.inputs.insert(node.inputs.end(), captures.begin(), captures.end());
    node.attrs.set("num_captures", static_cast<int64_t>(captures.size()));
  }

  void declare_outputs(const pb::NodeProto& proto, ir::Node* node) {
    for (const auto& o : proto.output()) {
      if (o.empty()) {
        if (node) node->outputs.push_back(nullptr);
        continue;
      }
      ir::Value* v;
      if (pending_.count(o)) {
        v = values_[o];
        pending_.erase(o);
      } else if (values_.count(o)) {
        fail(ErrorCode::kInvalidModel, m_.source, ": tensor '", o,
             "' is produced twice (second time by node '", proto.name(), "')");
      } else {
        v = graph_->add_value(o);
        values_[o] = v;
      }
      auto vi = shapes_.find(o);
      if (vi != shapes_.end()) {
        v->shape = shape_from_type(vi->second->type(), cat(m_.source, ": tensor '", o, "'"));
        if (auto dt = from_onnx_dtype(vi->second->type().tensor_type().elem_type())) v->dtype = *dt;
      }
      if (node) {
        node->outputs.push_back(v);
        v->producer = node;
      }
    }
  }

  void import_constant(const pb::NodeProto& proto, const std::string& name) {
    if (proto.output_size() != 1 || proto.attribute_size() != 1) {
      fail(ErrorCode::kInvalidModel, m_.source, ": Constant node '", name,
           "' must have one output and one attribute");
    }
    const auto& a = proto.attribute(0);
    std::string what = cat("Constant node '", name, "'");
    Tensor t;
    if (a.name() == "value") {
      t = tensor_from_proto(a.t(), m_.base_dir, what);
    } else if (a.name() == "value_float") {
      t = Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{a.f()});
    } else if (a.name() == "value_floats") {
      std::vector<float> v(a.floats().begin(), a.floats().end());
      t = Tensor::from_vector(DataType::kFloat32, {static_cast<int64_t>(v.size())}, v);
    } else if (a.name() == "value_int") {
      t = Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{a.i()});
    } else if (a.name() == "value_ints") {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      t = Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
    } else {
      m_.unsupported.push_back(
          {scope_ + name, "Constant", "ai.onnx", m_.opset, "attribute '" + a.name() + "'"});
      declare_outputs(proto, nullptr);
      return;
    }
    const std::string& out = proto.output(0);
    if (pending_.count(out)) {
      ir::Value* v = values_[out];
      v->dtype = t.dtype();
      v->shape = ir::to_sym_shape(t.shape());
      v->constant = std::move(t);
      pending_.erase(out);
    } else {
      if (values_.count(out))
        fail(ErrorCode::kInvalidModel, m_.source, ": tensor '", out, "' is produced twice");
      values_[out] = graph_->add_constant(out, std::move(t));
    }
  }

  void report_unsupported() {
    if (!pending_.empty() && m_.unsupported.empty()) {
      fail(ErrorCode::kInvalidModel, m_.source, ": tensor '", *pending_.begin(),
           "' is used but no node, input or initializer produces it");
    }
    if (m_.unsupported.empty()) return;
    std::ostringstream os;
    os << m_.source << ": " << m_.unsupported.size() << " node(s) cannot be imported:\n";
    for (const auto& u : m_.unsupported) {
      os << "  - node '" << u.node << "': op " << u.domain << "::" << u.op << " (opset " << u.opset
         << "): " << u.reason << "\n";
    }
    // kiln has no custom-op plugin interface yet, so the advice names only what works today.
    os << "Remove or replace these nodes in the model (for example with onnx-graphsurgeon), or "
          "add the op to kiln (src/ir/ops, src/onnx/ops, src/backends); custom-op plugins are "
          "not available yet.";
    throw Error(ErrorCode::kUnsupported, os.str());
  }

  ModelState& m_;
  std::string scope_;
  std::unique_ptr<ir::Graph> graph_ = std::make_unique<ir::Graph>();
  std::unordered_map<std::string, ir::Value*> values_;
  std::unordered_map<std::string, const pb::ValueInfoProto*> shapes_;
  std::set<std::string> pending_;
  int node_index_ = 0;
};

}  // namespace

std::unique_ptr<ir::Graph> import_model_bytes(std::string_view bytes, const std::string& base_dir,
                                              const std::string& source) {
  if (bytes.size() > kMaxModelFileBytes) {
    fail(ErrorCode::kInvalidModel, source, " is ", bytes.size(),
         " bytes; an ONNX file over 2 GiB must keep its weights in external data");
  }
  pb::ModelProto model;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(static_cast<int>(kMaxModelFileBytes));
  stream.SetRecursionLimit(64);
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    fail(ErrorCode::kInvalidModel, source, " is not a valid ONNX model (protobuf parsing failed)");
  }
  if (!model.has_graph()) fail(ErrorCode::kInvalidModel, source, " has no graph");
  ModelState state{model, base_dir, source, {}, 0, {}};
  return GraphImporter(state, "").run();
}

std::unique_ptr<ir::Graph> import_model_file(const std::string& path) {
  // Opening a FIFO would block until something writes to it, and a device may never end.
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    fail(ErrorCode::kIo, "cannot read model file '", path, "': not a regular file");
  }
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail(ErrorCode::kIo, "cannot open model file '", path, "'");
  auto size = static_cast<uint64_t>(f.tellg());
  if (size > kMaxModelFileBytes) {
    fail(ErrorCode::kInvalidModel, "'", path, "' is ", size,
         " bytes; an ONNX file over 2 GiB must keep its weights in external data");
  }
  std::string bytes(size, '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), static_cast<std::streamsize>(size))) {
    fail(ErrorCode::kIo, "cannot read model file '", path, "'");
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return import_model_bytes(bytes, dir.empty() ? "." : dir, "'" + path + "'");
}

}  // namespace kiln::onnx
