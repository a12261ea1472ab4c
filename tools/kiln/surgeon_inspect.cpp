// `kiln surgeon inspect`: what an ONNX model holds as a file — inputs, outputs, opsets, op counts,
// initializers — and which of its nodes kiln cannot import, as text or JSON.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "kiln/error.hpp"
#include "kiln/kiln.hpp"
#include "onnx/tensor_proto.hpp"
#include "quote.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {
namespace {

namespace pb = ::onnx;
using nlohmann::json;

struct Unsupported {
  std::string op;  // "domain::Op" for custom domains
  std::vector<std::string> nodes;
};

struct Census {
  int nodes = 0;  // subgraphs included
  int subgraph_nodes = 0;
  std::map<std::string, int64_t> ops;
  std::map<std::string, Unsupported> unsupported;
  int64_t initializers = 0;
  uint64_t initializer_bytes = 0;
};

bool is_default_domain(const std::string& d) {
  return d.empty() || d == "ai.onnx";
}

uint64_t tensor_bytes(const pb::TensorProto& t) {
  if (t.has_raw_data()) return t.raw_data().size();
  int64_t numel = 1;
  for (int64_t d : t.dims()) numel *= d;
  auto dt = onnx::from_onnx_dtype(t.data_type());
  return static_cast<uint64_t>(numel) * (dt ? element_size(*dt) : 1);
}

// An op is supported when kiln's op table has it (Constant is turned into a value on import).
void count(const pb::GraphProto& g, int depth, Census& c) {
  for (const auto& t : g.initializer()) {
    ++c.initializers;
    c.initializer_bytes += tensor_bytes(t);
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    ++c.nodes;
    if (depth > 0) ++c.subgraph_nodes;
    std::string op = is_default_domain(n.domain()) ? n.op_type() : n.domain() + "::" + n.op_type();
    ++c.ops[op];
    bool supported = is_default_domain(n.domain()) && supports_onnx_op(n.op_type());
    if (!supported) {
      Unsupported& u = c.unsupported[op];
      u.op = op;
      u.nodes.push_back(n.name().empty() ? cat("#", i) : n.name());
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g()) count(a.g(), depth + 1, c);
      for (const auto& sub : a.graphs()) count(sub, depth + 1, c);
    }
  }
}

std::vector<std::pair<std::string, int64_t>> by_count(const std::map<std::string, int64_t>& h) {
  std::vector<std::pair<std::string, int64_t>> v(h.begin(), h.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return v;
}

json shape_json(const pb::TypeProto& t) {
  if (!t.tensor_type().has_shape()) return nullptr;
  json dims = json::array();
  for (const auto& d : t.tensor_type().shape().dim()) {
    if (d.has_dim_value()) {
      dims.push_back(d.dim_value());
    } else if (d.has_dim_param()) {
      dims.push_back(d.dim_param());
    } else {
      dims.push_back(nullptr);
    }
  }
  return dims;
}

std::vector<const pb::ValueInfoProto*> real_inputs(const pb::GraphProto& g) {
  std::set<std::string> inits = initializer_names(g);
  std::vector<const pb::ValueInfoProto*> v;
  for (const auto& in : g.input()) {
    if (!inits.count(in.name())) v.push_back(&in);
  }
  return v;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b < 1000) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  } else if (b < 1000000) {
    std::snprintf(buf, sizeof buf, "%.3g KB", static_cast<double>(b) / 1e3);
  } else if (b < 1000000000) {
    std::snprintf(buf, sizeof buf, "%.3g MB", static_cast<double>(b) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g GB", static_cast<double>(b) / 1e9);
  }
  return buf;
}

}  // namespace

void inspect_model(const OnnxModel& model, bool json_out, std::ostream& out) {
  const pb::ModelProto& m = model.proto;
  const pb::GraphProto& g = m.graph();
  Census c;
  count(g, 0, c);
  std::string import_error;
  try {
    import_onnx_model(m, "'" + model.path + "'");
  } catch (const Error& e) {
    // The message quotes names and attribute values in full; a hostile one is 100 KB long.
    import_error = shorten_quoted_parts(e.what());
  }
  if (json_out) {
    json j;
    j["model"] = model.path;
    j["ir_version"] = m.ir_version();
    j["producer"] =
        m.producer_name() + (m.producer_version().empty() ? "" : " " + m.producer_version());
    j["opsets"] = json::object();
    for (const auto& o : m.opset_import())
      j["opsets"][o.domain().empty() ? "ai.onnx" : o.domain()] = o.version();
    j["graph_name"] = g.name();
    auto io = [](const pb::ValueInfoProto& v) {
      return json{{"name", v.name()},
                  {"dtype", elem_type_name(v.type().tensor_type().elem_type())},
                  {"shape", shape_json(v.type())}};
    };
    j["inputs"] = json::array();
    for (const auto* v : real_inputs(g)) j["inputs"].push_back(io(*v));
    j["outputs"] = json::array();
    for (const auto& v : g.output()) j["outputs"].push_back(io(v));
    j["nodes"] = c.nodes;
    j["subgraph_nodes"] = c.subgraph_nodes;
    j["op_histogram"] = c.ops;
    j["initializers"] = c.initializers;
    j["initializer_bytes"] = c.initializer_bytes;
    j["external_data_tensors"] = model.inlined_tensors;
    j["unsupported_ops"] = json::array();
    for (const auto& [op, u] : c.unsupported) {
      j["unsupported_ops"].push_back({{"op", op}, {"nodes", u.nodes}});
    }
    j["kiln_imports"] = import_error.empty();
    j["kiln_import_error"] = import_error.empty() ? json(nullptr) : json(import_error);
    out << j.dump(2) << "\n";
    return;
  }
  out << "model:        " << model.path << "\n";
  out << "producer:     " << (m.producer_name().empty() ? "-" : m.producer_name())
      << (m.producer_version().empty() ? "" : " " + m.producer_version()) << ", IR version "
      << m.ir_version() << "\n";
  out << "opsets:      ";
  for (const auto& o : m.opset_import()) {
    out << " " << (o.domain().empty() ? "ai.onnx" : o.domain()) << " " << o.version() << ";";
  }
  out << "\n";
  out << "inputs:\n";
  for (const auto* v : real_inputs(g))
    out << "  " << v->name() << ": " << type_to_string(v->type()) << "\n";
  out << "outputs:\n";
  for (const auto& v : g.output())
    out << "  " << v.name() << ": " << type_to_string(v.type()) << "\n";
  out << "initializers: " << c.initializers << " (" << human_bytes(c.initializer_bytes);
  if (model.inlined_tensors) out << ", " << model.inlined_tensors << " from external data";
  out << ")\n";
  out << "nodes:        " << c.nodes;
  if (c.subgraph_nodes) out << " (" << c.subgraph_nodes << " inside subgraphs)";
  out << "\n";
  for (const auto& [op, n] : by_count(c.ops)) out << "  " << op << ": " << n << "\n";
  if (c.unsupported.empty()) {
    out << "unsupported:  none (every op has a kiln implementation)\n";
  } else {
    out << "unsupported:  " << c.unsupported.size() << " op(s) kiln does not implement\n";
    for (const auto& [op, u] : c.unsupported) {
      out << "  " << op << " (" << u.nodes.size() << "):";
      for (size_t i = 0; i < u.nodes.size() && i < 8; ++i) out << " " << u.nodes[i];
      if (u.nodes.size() > 8) out << " ... (" << u.nodes.size() - 8 << " more)";
      out << "\n";
    }
  }
  if (!import_error.empty() && c.unsupported.empty()) {
    // Every op exists but an attribute value or the model itself is not importable.
    out << "kiln import:  fails: " << import_error << "\n";
  } else if (import_error.empty()) {
    out << "kiln import:  ok\n";
  }
}

}  // namespace kiln::tools::surgeon
