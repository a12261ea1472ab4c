// `kiln surgeon sanitize`: constant folding, dead-code, no-op and duplicate removal and shape
// inference on the ONNX model, with kiln as the oracle: kiln parses the model into a Network and
// simplifies it (simplify_network, the builder's cleanup passes); the results are mapped back onto
// the ONNX graph by tensor name (the importer names every tensor after its ONNX tensor), so
// untouched nodes stay as they were.
#include <functional>
#include <optional>

#include "kiln/error.hpp"
#include "kiln/simplify.hpp"
#include "onnx/tensor_proto.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

SanitizeResult sanitize_model(pb::ModelProto& model, const std::string& source) {
  pb::GraphProto& g = *model.mutable_graph();
  SanitizeResult r;
  r.nodes_before = g.node_size();
  std::optional<Network> network;
  try {
    network = import_onnx_model(model, source);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
    fail(ErrorCode::kUnsupported, "sanitize needs kiln to import the model: ", e.what(),
         "\n('kiln surgeon remove' or 'kiln surgeon replace' can take those nodes out first.)");
  }
  SimplifyReport simplified = simplify_network(*network);

  std::set<std::string> onnx_tensors = input_names(g);
  onnx_tensors.merge(initializer_names(g));
  for (const auto& n : g.node()) onnx_tensors.insert(n.output().begin(), n.output().end());
  auto is_constant = [&](const std::string& t) { return network->constant(t).has_value(); };

  // A node whose read kiln redirected to an equal tensor reads that one instead: only a tensor
  // the ONNX graph has, or a constant that becomes an initializer.
  std::map<std::string, std::string> renamed;
  for (const auto& [from, to] : simplified.redirected_reads) {
    bool known = onnx_tensors.count(to) > 0;
    bool fresh_constant = is_constant(to) && unique_tensor_name(g, to) == to;
    if (known || fresh_constant) renamed.emplace(from, to);
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
    onnx::tensor_to_proto(*network->constant(t), t, *g.add_initializer());
    r.folded.push_back(t);
  }
  auto* nodes = g.mutable_node();
  for (int i = g.node_size() - 1; i >= 0; --i) {
    if (!keep[static_cast<size_t>(i)]) nodes->DeleteSubrange(i, 1);
  }
  drop_unused_declarations(g);
  r.shapes_annotated = annotate_types(g, *network, /*replace_outputs=*/false);
  r.nodes_after = g.node_size();
  return r;
}

}  // namespace kiln::tools::surgeon
