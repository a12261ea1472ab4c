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

}  // namespace

std::string print_graph(const Graph& graph) {
  std::ostringstream os;
  os << "graph " << (graph.name.empty() ? "<unnamed>" : graph.name) << "(";
  for (size_t i = 0; i < graph.inputs().size(); ++i)
    os << (i ? ", " : "") << typed(graph.inputs()[i]);
  os << ") {\n";
  for (const auto& n : graph.nodes()) {
    os << "  ";
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
  }
  os << "  return";
  for (size_t i = 0; i < graph.outputs().size(); ++i)
    os << (i ? ", " : " ") << ref(graph.outputs()[i]);
  os << "\n}\n";
  return os.str();
}

}  // namespace kiln::ir
