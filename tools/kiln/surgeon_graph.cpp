// GraphProto queries and rewrites for the surgeon edits.
#include "surgeon_graph.hpp"

#include <algorithm>
#include <cctype>

#include "kiln/error.hpp"
#include "kiln/tensor.hpp"
#include "onnx/tensor_proto.hpp"
#include "option_values.hpp"

namespace kiln::tools::surgeon {
namespace {

namespace pb = ::onnx;

std::set<std::string> graph_free_names(const pb::GraphProto& g) {
  std::set<std::string> defined, read;
  for (const auto& i : g.input()) defined.insert(i.name());
  for (const auto& t : g.initializer()) defined.insert(t.name());
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) defined.insert(o);
    for (const std::string& r : node_reads(n)) read.insert(r);
  }
  for (const auto& o : g.output()) read.insert(o.name());
  std::set<std::string> free;
  for (const std::string& r : read) {
    if (!r.empty() && !defined.count(r)) free.insert(r);
  }
  return free;
}

template <typename Fn>
void for_each_subgraph(pb::NodeProto& n, Fn fn) {
  for (auto& a : *n.mutable_attribute()) {
    if (a.has_g()) fn(*a.mutable_g());
    for (auto& g : *a.mutable_graphs()) fn(g);
  }
}

void rename_in_subgraph(pb::GraphProto& g, const std::string& from, const std::string& to) {
  for (auto& n : *g.mutable_node()) {
    for (auto& i : *n.mutable_input()) {
      if (i == from) i = to;
    }
    for_each_subgraph(n, [&](pb::GraphProto& sub) { rename_in_subgraph(sub, from, to); });
  }
  // A subgraph that returns an outer tensor directly names it as its output.
  for (auto& o : *g.mutable_output()) {
    if (o.name() == from) o.set_name(to);
  }
}

const char* const kElemNames[] = {"undefined",  "float32", "uint8",  "int8",   "uint16",
                                  "int16",      "int32",   "int64",  "string", "bool",
                                  "float16",    "float64", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};

}  // namespace

std::set<std::string> subgraph_free_names(const pb::NodeProto& node) {
  std::set<std::string> free;
  for (const auto& a : node.attribute()) {
    if (a.has_g()) free.merge(graph_free_names(a.g()));
    for (const auto& g : a.graphs()) free.merge(graph_free_names(g));
  }
  return free;
}

std::set<std::string> node_reads(const pb::NodeProto& node) {
  std::set<std::string> r = subgraph_free_names(node);
  for (const auto& i : node.input()) {
    if (!i.empty()) r.insert(i);
  }
  return r;
}

std::set<std::string> initializer_names(const pb::GraphProto& g) {
  std::set<std::string> s;
  for (const auto& t : g.initializer()) s.insert(t.name());
  return s;
}

std::set<std::string> input_names(const pb::GraphProto& g) {
  std::set<std::string> s;
  for (const auto& v : g.input()) s.insert(v.name());
  return s;
}

std::set<std::string> output_names(const pb::GraphProto& g) {
  std::set<std::string> s;
  for (const auto& v : g.output()) s.insert(v.name());
  return s;
}

std::map<std::string, int> producers(const pb::GraphProto& g) {
  std::map<std::string, int> p;
  for (int i = 0; i < g.node_size(); ++i) {
    for (const auto& o : g.node(i).output()) {
      if (!o.empty()) p[o] = i;
    }
  }
  return p;
}

std::map<std::string, int> use_counts(const pb::GraphProto& g) {
  std::map<std::string, int> c;
  for (const auto& n : g.node()) {
    for (const auto& i : n.input()) {
      if (!i.empty()) ++c[i];
    }
    for (const std::string& f : subgraph_free_names(n)) ++c[f];
  }
  for (const auto& o : g.output()) ++c[o.name()];
  return c;
}

std::vector<bool> live_nodes(const pb::GraphProto& g, std::set<std::string>& needed,
                             const std::function<bool(const std::string&)>& stops) {
  std::vector<bool> keep(static_cast<size_t>(g.node_size()), false);
  // ONNX graphs are topologically sorted, so one backward sweep settles it; the loop only guards
  // against a file that is not.
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = g.node_size() - 1; i >= 0; --i) {
      if (keep[static_cast<size_t>(i)]) continue;
      const auto& n = g.node(i);
      bool used = std::any_of(n.output().begin(), n.output().end(), [&](const std::string& o) {
        return needed.count(o) > 0 && !(stops && stops(o));
      });
      if (!used) continue;
      keep[static_cast<size_t>(i)] = true;
      changed = true;
      needed.merge(node_reads(n));
    }
  }
  return keep;
}

int prune_graph(pb::GraphProto& g) {
  std::set<std::string> needed = output_names(g);
  std::vector<bool> keep = live_nodes(g, needed);
  pb::GraphProto pruned_nodes;
  int removed = 0;
  std::set<std::string> produced;
  for (int i = 0; i < g.node_size(); ++i) {
    if (!keep[static_cast<size_t>(i)]) {
      ++removed;
      continue;
    }
    for (const auto& o : g.node(i).output()) produced.insert(o);
    *pruned_nodes.add_node() = std::move(*g.mutable_node(i));
  }
  g.mutable_node()->Swap(pruned_nodes.mutable_node());

  std::set<std::string> dropped_initializers;
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i) {
    if (needed.count(inits->Get(i).name())) continue;
    dropped_initializers.insert(inits->Get(i).name());
    inits->DeleteSubrange(i, 1);
  }
  auto* inputs = g.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i) {
    if (dropped_initializers.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
  }
  auto* vi = g.mutable_value_info();
  for (int i = vi->size() - 1; i >= 0; --i) {
    if (!produced.count(vi->Get(i).name())) vi->DeleteSubrange(i, 1);
  }
  return removed;
}

int drop_unused_declarations(pb::GraphProto& g) {
  std::map<std::string, int> uses = use_counts(g);
  std::set<std::string> produced = input_names(g);
  for (const auto& n : g.node()) produced.insert(n.output().begin(), n.output().end());
  std::set<std::string> dropped;
  auto* inits = g.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i) {
    if (uses.count(inits->Get(i).name())) continue;
    dropped.insert(inits->Get(i).name());
    inits->DeleteSubrange(i, 1);
  }
  auto* inputs = g.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i) {
    if (dropped.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
  }
  auto* vi = g.mutable_value_info();
  for (int i = vi->size() - 1; i >= 0; --i) {
    if (!produced.count(vi->Get(i).name())) vi->DeleteSubrange(i, 1);
  }
  return static_cast<int>(dropped.size());
}

void rename_reads(pb::GraphProto& g, const std::string& from, const std::string& to) {
  for (auto& n : *g.mutable_node()) {
    for (auto& i : *n.mutable_input()) {
      if (i == from) i = to;
    }
    for_each_subgraph(n, [&](pb::GraphProto& sub) { rename_in_subgraph(sub, from, to); });
  }
}

std::string unique_tensor_name(const pb::GraphProto& g, const std::string& base) {
  std::set<std::string> used = initializer_names(g);
  used.merge(input_names(g));
  used.merge(output_names(g));
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) used.insert(o);
    for (const auto& i : n.input()) used.insert(i);
    used.insert(n.name());
  }
  if (!used.count(base)) return base;
  for (int k = 2;; ++k) {
    std::string candidate = base + "_" + std::to_string(k);
    if (!used.count(candidate)) return candidate;
  }
}

TypeTable::TypeTable(const pb::GraphProto& g) {
  for (const auto& t : g.initializer()) {
    pb::TypeProto type;
    auto* tt = type.mutable_tensor_type();
    tt->set_elem_type(t.data_type());
    for (int64_t d : t.dims()) tt->mutable_shape()->add_dim()->set_dim_value(d);
    types_[t.name()] = type;
  }
  auto declare = [&](const pb::ValueInfoProto& v) {
    if (v.type().has_tensor_type() && v.type().tensor_type().elem_type() != 0) {
      types_[v.name()] = v.type();
    }
  };
  for (const auto& v : g.value_info()) declare(v);
  for (const auto& v : g.output()) declare(v);
  for (const auto& v : g.input()) declare(v);
}

void TypeTable::add_inferred(const Network& network) {
  std::set<std::string> inputs;
  for (const TensorDesc& t : network.inputs()) inputs.insert(t.name);
  for (const TensorDesc& t : network.tensors()) {
    if (!types_.count(t.name) && !inputs.count(t.name)) types_[t.name] = type_from_desc(t);
  }
}

std::optional<pb::TypeProto> TypeTable::find(const std::string& name) const {
  auto it = types_.find(name);
  if (it == types_.end()) return std::nullopt;
  return it->second;
}

std::string elem_type_name(int32_t elem_type) {
  if (elem_type >= 0 && elem_type < static_cast<int32_t>(std::size(kElemNames))) {
    return kElemNames[elem_type];
  }
  return onnx::onnx_dtype_name(elem_type);
}

std::string type_to_string(const pb::TypeProto& t) {
  if (!t.has_tensor_type()) return "(not a tensor)";
  std::string s = elem_type_name(t.tensor_type().elem_type());
  if (!t.tensor_type().has_shape()) return s + "[?rank]";
  s += "[";
  const auto& dims = t.tensor_type().shape().dim();
  for (int i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    if (dims[i].has_dim_value()) {
      s += std::to_string(dims[i].dim_value());
    } else if (dims[i].has_dim_param()) {
      s += dims[i].dim_param();
    } else {
      s += "?";
    }
  }
  return s + "]";
}

bool types_conflict(const pb::TypeProto& a, const pb::TypeProto& b, std::string* why) {
  const auto& ta = a.tensor_type();
  const auto& tb = b.tensor_type();
  bool conflict = false;
  if (ta.elem_type() != 0 && tb.elem_type() != 0 && ta.elem_type() != tb.elem_type()) {
    conflict = true;
  } else if (ta.has_shape() && tb.has_shape()) {
    if (ta.shape().dim_size() != tb.shape().dim_size()) {
      conflict = true;
    } else {
      for (int i = 0; i < ta.shape().dim_size(); ++i) {
        const auto& da = ta.shape().dim(i);
        const auto& db = tb.shape().dim(i);
        if (da.has_dim_value() && db.has_dim_value() && da.dim_value() != db.dim_value()) {
          conflict = true;
        }
      }
    }
  }
  if (conflict && why) *why = type_to_string(a) + " vs " + type_to_string(b);
  return conflict;
}

pb::TypeProto type_from_desc(const TensorDesc& v) {
  pb::TypeProto t;
  auto* tt = t.mutable_tensor_type();
  tt->set_elem_type(onnx::to_onnx_dtype(v.dtype));
  if (!v.rank_known) return t;
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.dims.size(); ++i) {
    auto* dim = shape->add_dim();
    if (v.dims[i] >= 0) {
      dim->set_dim_value(v.dims[i]);
    } else if (i < v.dim_names.size() && !v.dim_names[i].empty()) {
      dim->set_dim_param(v.dim_names[i]);
    }
  }
  return t;
}

pb::TensorShapeProto parse_shape(const std::string& dims, const std::string& spec) {
  pb::TensorShapeProto shape;
  if (dims.empty()) return shape;
  // Dims are joined by 'x' (1x3x224x224), or by ',' when a symbolic name contains an 'x'.
  char sep = dims.find(',') != std::string::npos ? ',' : 'x';
  std::vector<int64_t> static_dims;  // their product must be a size kiln can hold
  size_t start = 0;
  while (true) {
    size_t x = dims.find(sep, start);
    std::string part = dims.substr(start, x == std::string::npos ? std::string::npos : x - start);
    auto* d = shape.add_dim();
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) {
      return std::isdigit(c) != 0;
    });
    bool name = !part.empty() &&
                (std::isalpha(static_cast<unsigned char>(part[0])) || part[0] == '_') &&
                std::all_of(part.begin(), part.end(),
                            [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
    if (numeric) {
      std::optional<int64_t> value = parse_dim(part);
      if (!value)
        fail(ErrorCode::kInvalidArgument, "dim '", part, "' of '", spec, "' is too large");
      d->set_dim_value(*value);
      static_dims.push_back(*value);
    } else if (name) {
      d->set_dim_param(part);
    } else if (part != "?") {
      fail(ErrorCode::kInvalidArgument, "cannot read dim '", part, "' of '", spec,
           "': write dims as numbers, names (symbolic) or '?' joined by 'x' or ',', e.g. "
           "Nx3x224x224");
    }
    if (x == std::string::npos) break;
    start = x + 1;
  }
  checked_numel(static_dims, 1, ErrorCode::kInvalidArgument, cat("--shape '", spec, "'"));
  return shape;
}

std::pair<std::string, std::string> split_assignment(const std::string& s,
                                                     const std::string& option) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) {
    fail(ErrorCode::kInvalidArgument, option, " '", s, "' must be NAME=VALUE");
  }
  return {s.substr(0, eq), s.substr(eq + 1)};
}

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const std::string& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string part =
          item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::vector<int> select_nodes(const pb::GraphProto& g, const std::vector<std::string>& names,
                              const std::vector<std::string>& ops) {
  std::set<std::string> name_set(names.begin(), names.end());
  std::set<std::string> op_set(ops.begin(), ops.end());
  std::set<std::string> found;
  std::vector<int> picked;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    bool by_name = name_set.count(n.name()) > 0;
    if (by_name) found.insert(n.name());
    if (by_name || op_set.count(n.op_type())) picked.push_back(i);
  }
  for (const std::string& name : names) {
    if (!found.count(name)) {
      fail(ErrorCode::kInvalidArgument, "no node is named '", name,
           "' (node names are listed by 'kiln inspect MODEL')");
    }
  }
  if (picked.empty()) {
    std::string what;
    for (const std::string& op : ops) what += (what.empty() ? "" : ", ") + op;
    fail(ErrorCode::kInvalidArgument, "no node has op type ", what,
         " (op counts are listed by 'kiln surgeon inspect MODEL')");
  }
  return picked;
}

std::string describe_node(const pb::GraphProto& g, int index) {
  const auto& n = g.node(index);
  if (n.name().empty()) return cat("node #", index, " (", n.op_type(), ")");
  return cat("node '", n.name(), "' (", n.op_type(), ")");
}

}  // namespace kiln::tools::surgeon
