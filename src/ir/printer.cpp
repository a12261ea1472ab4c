// Graph printer.
#include "ir/printer.hpp"

#include <sstream>

namespace kiln::ir {
namespace {

std::string typed(const Value* v) {
  if (!v) return "_";
  return "%" + v->name + ": " + std::string(to_string(v->dtype)) + sym_shape_to_string(v->shape);
}

std::string ref(const Value* v) {
  if (!v) return "_";
  return (v->is_constant() ? "$" : "%") + v->name;
}

void print(const Graph& graph, const std::string& indent, std::ostringstream& os);

// Subgraphs print after their node, indented, as "then_branch: graph ...".
void print_subgraphs(const Node& n, const std::string& indent, std::ostringstream& os) {
  for (const auto& [k, v] : n.attrs.all()) {
    const auto* sub = std::get_if<GraphAttr>(&v);
    if (!sub || !*sub) continue;
    os << indent << "    " << k << ": ";
    print(**sub, indent + "    ", os);
  }
}

void print(const Graph& graph, const std::string& indent, std::ostringstream& os) {
  os << "graph " << (graph.name.empty() ? "<unnamed>" : graph.name) << "(";
  for (size_t i = 0; i < graph.inputs().size(); ++i)
    os << (i ? ", " : "") << typed(graph.inputs()[i]);
  os << ") {\n";
  for (const auto& n : graph.nodes()) {
    os << indent << "  ";
    for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? ", " : "") << typed(n->outputs[i]);
    os << " = " << n->op << "(";
    for (size_t i = 0; i < n->inputs.size(); ++i) os << (i ? ", " : "") << ref(n->inputs[i]);
    os << ")";
    if (!n->attrs.all().empty()) {
      os << " {";
      bool first = true;
      for (const auto& [k, v] : n->attrs.all()) {
        os << (first ? "" : ", ") << k << "=" << attr_value_to_string(v);
        first = false;
      }
      os << "}";
    }
    if (!n->origins.empty() && !(n->origins.size() == 1 && n->origins[0] == n->name)) {
      os << "  # from";
      for (const auto& o : n->origins) os << " " << o;
    }
    os << "\n";
    print_subgraphs(*n, indent, os);
  }
  os << indent << "  return";
  for (size_t i = 0; i < graph.outputs().size(); ++i)
    os << (i ? ", " : " ") << ref(graph.outputs()[i]);
  os << "\n" << indent << "}\n";
}

}  // namespace

std::string print_graph(const Graph& graph) {
  std::ostringstream os;
  print(graph, "", os);
  return os.str();
}

}  // namespace kiln::ir
