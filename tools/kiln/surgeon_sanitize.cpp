// `kiln surgeon sanitize`: constant folding, dead-code, no-op and duplicate removal and shape
// inference on the ONNX model, with kiln as the oracle: kiln imports the model and runs its own
// cleanup passes on the IR; the results are mapped back onto the ONNX graph by tensor name (the
// importer names every IR value after its ONNX tensor), so untouched nodes stay as they were.
#include <functional>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "onnx/tensor_proto.hpp"
#include "passes/pass_manager.hpp"
#include "passes/passes.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {
namespace {

namespace pb = ::onnx;

// Cleanup passes that keep semantics and only ever delete nodes or turn values constant, so every
// IR value still named X equals the ONNX tensor X. (A pass that removes a node producing a graph
// output gives the output's name to the equal value that replaces it; that is still equal.)
std::vector<passes::Pass> sanitize_passes() {
  return {{"fold_constants", passes::fold_constants},
          {"eliminate_constant_selects", passes::eliminate_constant_selects},
          {"eliminate_noops", passes::eliminate_noops},
          {"eliminate_common_subexpressions", passes::eliminate_common_subexpressions},
          {"eliminate_dead_code", passes::eliminate_dead_code}};
}

}  // namespace

SanitizeResult sanitize_model(pb::ModelProto& model, const std::string& source) {
  pb::GraphProto& g = *model.mutable_graph();
  SanitizeResult r;
  r.nodes_before = g.node_size();
  std::unique_ptr<ir::Graph> graph;
  try {
    graph = import_onnx_model(model, source);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
    fail(ErrorCode::kUnsupported, "sanitize needs kiln to import the model: ", e.what(),
         "\n('kiln surgeon remove' or 'kiln surgeon replace' can take those nodes out first.)");
  }

  // Which value each node read before the passes; a node that survives and now reads another
  // value reads an equal one (a no-op's input, a duplicate's twin).
  std::vector<std::pair<const ir::Node*, std::vector<std::string>>> before;
  for (const auto& n : graph->nodes()) {
    std::vector<std::string> names;
    for (const ir::Value* v : n->inputs) names.push_back(v ? v->name : "");
    before.emplace_back(n.get(), std::move(names));
  }
  log(Severity::kInfo,
      passes::format_pass_records(passes::PassManager(sanitize_passes()).run(*graph)));

  std::map<std::string, const ir::Value*> values;
  for (const auto& v : graph->values()) values.emplace(v->name, v.get());
  std::set<std::string> onnx_tensors = input_names(g);
  onnx_tensors.merge(initializer_names(g));
  for (const auto& n : g.node()) onnx_tensors.insert(n.output().begin(), n.output().end());
  auto is_constant = [&](const std::string& t) {
    auto it = values.find(t);
    return it != values.end() && it->second->is_constant();
  };

  // Surviving nodes are still in the graph (these passes create none, so no address is reused).
  std::set<const ir::Node*> alive;
  for (const auto& n : graph->nodes()) alive.insert(n.get());
  std::map<std::string, std::string> renamed;
  for (const auto& [node, names] : before) {
    if (!alive.count(node) || node->inputs.size() != names.size()) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      const ir::Value* now = node->inputs[i];
      if (!now || names[i].empty() || now->name == names[i]) continue;
      // Only to a tensor the ONNX graph has, or a constant that becomes an initializer.
      bool known = onnx_tensors.count(now->name) > 0;
      bool fresh_constant = now->is_constant() && unique_tensor_name(g, now->name) == now->name;
      if (known || fresh_constant) renamed.emplace(names[i], now->name);
    }
  }
  auto resolve = [&](std::string t) {
    for (int hops = 0; hops < 64; ++hops) {
      auto it = renamed.find(t);
      if (it == renamed.end()) break;
      t = it->second;
    }
    return t;
  };
  for (auto& n : *g.mutable_node()) {
    for (auto& i : *n.mutable_input()) {
      if (i.empty()) continue;
      std::string to = resolve(i);
      if (to != i) {
        i = to;
        ++r.renamed_reads;
      }
    }
  }

  // Which nodes are still needed: a tensor kiln found constant is cut off from its producer and
  // becomes an initializer, unless it is a graph output, an initializer already, or the output of
  // a Constant node (those stay as they are).
  std::set<std::string> outputs = output_names(g);
  std::set<std::string> inits = initializer_names(g);
  std::map<std::string, int> made_by = producers(g);
  auto cut = [&](const std::string& t) {
    if (outputs.count(t) || inits.count(t) || !is_constant(t)) return false;
    auto p = made_by.find(t);
    return p == made_by.end() || g.node(p->second).op_type() != "Constant";
  };
  std::set<std::string> needed = outputs;
  std::vector<bool> keep = live_nodes(g, needed, cut);
  std::set<std::string> kept_outputs;
  for (int i = 0; i < g.node_size(); ++i) {
    if (keep[static_cast<size_t>(i)]) {
      kept_outputs.insert(g.node(i).output().begin(), g.node(i).output().end());
    }
  }
  for (const std::string& t : needed) {
    if (!cut(t) || kept_outputs.count(t) || input_names(g).count(t)) continue;
    onnx::tensor_to_proto(*values.at(t)->constant, t, *g.add_initializer());
    r.folded.push_back(t);
  }
  auto* nodes = g.mutable_node();
  for (int i = g.node_size() - 1; i >= 0; --i) {
    if (!keep[static_cast<size_t>(i)]) nodes->DeleteSubrange(i, 1);
  }
  drop_unused_declarations(g);
  r.shapes_annotated = annotate_types(g, *graph, /*replace_outputs=*/false);
  r.nodes_after = g.node_size();
  return r;
}

}  // namespace kiln::tools::surgeon
