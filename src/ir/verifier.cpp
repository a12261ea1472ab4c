// Graph verifier.
#include "ir/verifier.hpp"

#include <unordered_set>

#include "core/error.hpp"
#include "ir/op_registry.hpp"

namespace kiln::ir {

void verify_graph(const Graph& graph, ErrorCode code) {
  std::unordered_set<const Value*> owned;
  std::unordered_set<std::string> names;
  for (const auto& v : graph.values()) {
    owned.insert(v.get());
    if (!names.insert(v->name).second) fail(code, "two tensors are named '", v->name, "'");
  }
  std::unordered_set<const Value*> defined;
  for (const Value* v : graph.inputs()) {
    if (!owned.count(v)) fail(code, "graph input is not a tensor of this graph");
    if (v->is_constant()) fail(code, "graph input '", v->name, "' is also a constant");
    defined.insert(v);
  }
  for (const auto& v : graph.values()) {
    if (v->is_constant()) defined.insert(v.get());
  }
  std::unordered_set<std::string> node_names;
  for (const auto& n : graph.nodes()) {
    if (!node_names.insert(n->name).second) fail(code, "two nodes are named '", n->name, "'");
    const OpSchema* schema = OpRegistry::instance().find(n->op);
    if (!schema) fail(code, n->describe(), " uses an op kiln does not know");
    auto n_in = static_cast<int>(n->inputs.size());
    if (n_in < schema->min_inputs || n_in > schema->max_inputs) {
      fail(code, n->describe(), " has ", n_in, " inputs, outside ", schema->min_inputs, "..",
           schema->max_inputs);
    }
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value* v = n->inputs[i];
      if (!v) {
        if (static_cast<int>(i) < schema->min_inputs) {
          fail(code, n->describe(), " is missing required input ", i);
        }
        continue;
      }
      if (!owned.count(v))
        fail(code, n->describe(), " input ", i, " is not a tensor of this graph");
      if (!defined.count(v)) {
        fail(code, n->describe(), " reads tensor '", v->name, "' before anything produces it");
      }
    }
    for (const Value* v : n->outputs) {
      if (!v) continue;
      if (!owned.count(v)) fail(code, n->describe(), " writes a tensor not in this graph");
      if (v->producer != n.get()) {
        fail(code, n->describe(), " writes '", v->name, "' whose producer is recorded elsewhere");
      }
      if (!defined.insert(v).second) fail(code, "tensor '", v->name, "' is produced twice");
    }
    // Subgraphs are closed functions (outer values arrive as their inputs), so each one is
    // checked on its own by the same rules.
    for (const auto& [attr, value] : n->attrs.all()) {
      const auto* sub = std::get_if<GraphAttr>(&value);
      if (!sub) continue;
      if (!*sub) fail(code, n->describe(), " attribute '", attr, "' is an empty graph");
      try {
        verify_graph(**sub, code);
      } catch (const Error& e) {
        fail(code, "in subgraph '", attr, "' of ", n->describe(), ": ", e.what());
      }
    }
  }
  for (const Value* v : graph.outputs()) {
    if (!defined.count(v)) fail(code, "graph output '", v->name, "' is never produced");
  }
}

}  // namespace kiln::ir
